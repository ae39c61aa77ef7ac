"""Facebook's URLs, answered by the sandbox world: Graph API, Login dialog, knobs."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from markupsafe import escape

from webapp.blueprints.sandbox.data import KNOWN_SCOPES, GraphFailure
from webapp.blueprints.sandbox.send_checks import MODES as FAILURE_MODES
from webapp.blueprints.sandbox.world import SandboxWorld
from webapp.extensions import csrf
from webapp.web import public

bp = Blueprint("sandbox", __name__, url_prefix="/sandbox/facebook")
VERSION = re.compile(r"^v\d+\.\d+$")

FAILURE_LABELS = {
    "transient": "fail (code 2, HTTP 500)",
    "rate_limit": "rate limited (613)",
    "permanent": "person unavailable (551)",
    "ambiguous": "deliver, then lose the answer (1/1357046)",
    "timeout": "deliver, then answer too late",
    "dead_token": "kill the page token (190/460)",
}
SCOPE_TEXT = {
    "pages_show_list": "Show a list of the Pages you manage",
    "pages_messaging": "Manage and access Page conversations in Messenger",
    "pages_manage_metadata": "Manage accounts, settings and webhooks for a Page",
    "pages_read_engagement": "Read content posted on the Page",
    "pages_read_user_content": "Read user content on your Page",
    "pages_manage_engagement": "Manage comments on your Page",
    "business_management": "Manage your business",
    "public_profile": "Your name and profile picture",
}


def world() -> SandboxWorld:
    return current_app.extensions["facebook_sandbox"]


def request_token() -> str | None:
    """The access token, from the Authorization header or the ``access_token`` parameter."""
    header = request.headers.get("Authorization", "")
    for scheme in ("Bearer ", "OAuth "):
        if header.startswith(scheme):
            return header.removeprefix(scheme).strip()
    return request.values.get("access_token")


def check_version(version: str) -> None:
    if not VERSION.match(version):
        raise GraphFailure(f"Unknown path components: /{version}", 2500)


@bp.errorhandler(GraphFailure)
def graph_failure(failure: GraphFailure) -> tuple[Response, int]:
    """Facebook's error JSON and status."""
    response = jsonify(failure.body())
    if failure.code == 190:
        response.headers["WWW-Authenticate"] = (
            f'OAuth "Facebook Platform" "invalid_token" "{failure}"'
        )
    return response, failure.status


# --- Graph API ----------------------------------------------------------------


@bp.route("/graph/<version>/oauth/access_token", methods=["GET", "POST"])
@csrf.exempt
@public
def access_token(version: str) -> Response:
    """Code → short-lived user token; ``fb_exchange_token`` → long-lived user token."""
    check_version(version)
    values = request.values
    world().check_client(values.get("client_id"), values.get("client_secret"))
    if values.get("grant_type") == "fb_exchange_token":
        return jsonify(world().exchange_token(values.get("fb_exchange_token", "")))
    if not values.get("code"):
        raise GraphFailure("Missing authorization code", 1)
    return jsonify(
        world().exchange_code(code=values["code"], redirect_uri=values.get("redirect_uri"))
    )


@bp.get("/graph/<version>/debug_token")
@public
def debug_token(version: str) -> Response:
    """What a token is, whose, until when, and if dead, why."""
    check_version(version)
    return jsonify(
        world().debug_token(app_token=request_token(), input_token=request.args.get("input_token"))
    )


@bp.get("/graph/<version>/me")
@public
def me(version: str) -> Response:
    """The token's person (or page)."""
    check_version(version)
    return jsonify(world().me(request_token()))


@bp.get("/graph/<version>/me/accounts")
@public
def accounts(version: str) -> Response:
    """The person's pages, 25 at a time, with ``paging.cursors`` and ``next``."""
    check_version(version)
    limit = min(int(request.args.get("limit", 25)), 100)
    body = world().accounts(request_token(), limit=limit, after=request.args.get("after"))
    paging = body.get("paging", {})
    if "next" in paging:
        params = {k: v for k, v in request.args.items() if k not in ("after", "before")}
        params["after"] = paging["cursors"]["after"]
        paging["next"] = f"{request.base_url}?{urlencode(params)}"
    return jsonify(body)


@bp.route("/graph/<version>/<page_id>/subscribed_apps", methods=["GET", "POST", "DELETE"])
@csrf.exempt
@public
def subscribed_apps(version: str, page_id: str) -> Response:
    """Install (POST), read (GET) or remove (DELETE) the app on a page."""
    check_version(version)
    token = request_token()
    if request.method == "GET":
        return jsonify(world().subscriptions(page_id, token, current_app.config["BASE_URL"]))
    if request.method == "POST":
        world().subscribe(page_id, token, request.values.get("subscribed_fields"))
    else:
        world().unsubscribe(page_id, token)
    return jsonify({"success": True})


@bp.get("/graph/<version>/<object_id>")
@public
def graph_object(version: str, object_id: str) -> Response:
    """A page by id."""
    check_version(version)
    return jsonify(world().page(object_id, request_token(), request.args.get("fields")))


@bp.get("/picture/<page_id>.svg")
@public
def picture(page_id: str) -> Response:
    """A page's profile picture: its initials on a colour of its own."""
    name = world().name_of(page_id) or abort(404)
    initials = "".join(word[0] for word in name.split()[:2]).upper()
    hue = int(page_id) % 360
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 50 50">'
        f'<rect width="50" height="50" fill="hsl({hue},55%,45%)"/>'
        '<text x="25" y="32" font-family="sans-serif" font-size="20" fill="#fff"'
        f' text-anchor="middle">{escape(initials)}</text></svg>'
    )
    return Response(svg, mimetype="image/svg+xml")


# --- The Login dialog -----------------------------------------------------------


def dialog_error(title: str, text: str) -> tuple[str, int]:
    return render_template("sandbox/error.html", title=title, text=text), 400


@bp.route("/www/<version>/dialog/oauth", methods=["GET", "POST"])
@public
def dialog(version: str) -> Any:
    """Facebook Login: pick a sandbox person, see what the app asks for, Allow or Cancel."""
    args = request.values
    if not VERSION.match(version):
        return dialog_error("Page not found", "This dialog version does not exist.")
    if args.get("client_id") != world().app_id:
        return dialog_error(
            "Invalid App ID", "The provided app ID does not look like a valid app ID."
        )
    redirect_uri = args.get("redirect_uri", "")
    allowed = current_app.config["BASE_URL"].rstrip("/") + "/channels/facebook/callback"
    if redirect_uri != allowed:
        return dialog_error(
            "URL Blocked",
            "This redirect failed because the redirect URI is not whitelisted in the app's"
            " Client OAuth Settings.",
        )
    if args.get("response_type", "code") != "code":
        return dialog_error("Unsupported response type", "The sandbox only answers with a code.")
    scopes = [s for s in re.split(r"[,\s]+", args.get("scope", "")) if s]
    unknown = [s for s in scopes if s not in KNOWN_SCOPES]
    if unknown:
        return dialog_error("Invalid Scopes", ", ".join(unknown))
    state = args.get("state", "")
    if request.method == "GET":
        return render_template(
            "sandbox/dialog.html", users=world().users(), scopes=scopes, scope_text=SCOPE_TEXT,
            app_name=world().app_name,
        )  # fmt: skip
    if "cancel" in request.form:
        denied = {
            "error": "access_denied", "error_code": "200",
            "error_description": "Permissions error", "error_reason": "user_denied", "state": state,
        }  # fmt: skip
        return redirect(f"{redirect_uri}?{urlencode(denied)}#_=_")
    user_id = request.form.get("user_id", "")
    if user_id not in {u["id"] for u in world().users()}:
        return dialog_error("Choose an account", "Pick a sandbox person to log in as.")
    code = world().issue_code(user_id=user_id, redirect_uri=redirect_uri, scopes=scopes)
    return redirect(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}#_=_")


# --- Knobs (Pagedesk admins only) ------------------------------------------------


@bp.get("/")
def index() -> str:
    """The sandbox's people and pages, and the knobs that break things on purpose."""
    if not current_user.is_admin:
        abort(403)
    snapshot = world().snapshot()
    now = datetime.fromtimestamp(snapshot["now"], UTC)
    return render_template(
        "sandbox/index.html", world=snapshot, now=now, failure_modes=FAILURE_LABELS.items()
    )


def _fail_sends(sandbox: SandboxWorld, form: Any) -> None:
    mode = form.get("mode", "")
    if mode not in FAILURE_MODES:
        abort(400)
    times = max(0, min(int(form.get("times") or 1), 100))
    sleep = max(0.0, min(float(form.get("sleep") or 15), 120.0))
    sandbox.fail_sends(form["page_id"], mode, times, sleep=sleep)


def _drop_subscription(sandbox: SandboxWorld, form: Any) -> None:
    # What Facebook does after an hour of failed webhook deliveries (reference §5).
    with sandbox.state() as state:
        state["pages"][form["page_id"]]["subscriptions"].pop(sandbox.app_id, None)


def _invalidate_tokens(sandbox: SandboxWorld, form: Any) -> None:
    # Facebook forgets every token of this person: /debug_token says "Invalid OAuth access token."
    with sandbox.state() as state:
        dead = {t for t, r in state["tokens"].items() if r["user_id"] == form["user_id"]}
        state["tokens"] = {t: r for t, r in state["tokens"].items() if t not in dead}
        state["page_tokens"] = {k: t for k, t in state["page_tokens"].items() if t not in dead}


def _data_access_on(sandbox: SandboxWorld, form: Any) -> None:
    day = datetime.strptime(form["date"], "%Y-%m-%d").replace(hour=12, tzinfo=UTC)
    sandbox.set_data_access_expires_at(form["user_id"], day.timestamp())


# Each knob: what it does to the sandbox's Facebook, from the form's fields.
KNOBS: dict[str, Callable[[SandboxWorld, Any], None]] = {
    "change-password": lambda s, f: s.change_password(f["user_id"]),
    "remove-app": lambda s, f: s.remove_app(f["user_id"]),
    "revoke-manage": lambda s, f: s.revoke_task(f["user_id"], f["page_id"], "MANAGE"),
    "unpublish": lambda s, f: s.set_published(f["page_id"], False),
    "publish": lambda s, f: s.set_published(f["page_id"], True),
    "data-access": lambda s, f: s.set_data_access_expires_at(
        f["user_id"], s.now() + float(f.get("days", "1")) * 86400
    ),
    "add-page": lambda s, f: s.add_page(f["user_id"], f.get("name") or "New page"),
    "human-agent-on": lambda s, f: s.set_page_feature(f["page_id"], human_agent=True),
    "human-agent-off": lambda s, f: s.set_page_feature(f["page_id"], human_agent=False),
    "npi-on": lambda s, f: s.set_page_feature(f["page_id"], npi=True),
    "npi-off": lambda s, f: s.set_page_feature(f["page_id"], npi=False),
    "fail-sends": _fail_sends,
    "block-customer": lambda s, f: s.set_blocked(f["page_id"], f["psid"], True),
    "unblock-customer": lambda s, f: s.set_blocked(f["page_id"], f["psid"], False),
    "drop-subscription": _drop_subscription,
    "invalidate-tokens": _invalidate_tokens,
    "data-access-date": _data_access_on,
}


@bp.post("/knobs/<action>")
def knob(action: str) -> Response:
    """Turn one knob; back to the sandbox page (or to the simulator, for a customer's)."""
    if not current_user.is_admin:
        abort(403)
    if action not in KNOBS:
        abort(404)
    try:
        KNOBS[action](world(), request.form)
    except (KeyError, ValueError):
        abort(400)
    flash("Done. The sandbox's Facebook changed.", "success")
    if "psid" in request.form:
        return redirect(
            url_for("sandbox.simulator_page", page=request.form["page_id"],
                    customer=request.form["psid"])
        )  # fmt: skip
    return redirect(url_for("sandbox.index"))
