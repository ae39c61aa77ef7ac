"""The customer simulator: act as a sandbox customer on a connected page."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.sandbox import simulator
from webapp.blueprints.sandbox.courier import Courier
from webapp.blueprints.sandbox.data import CUSTOMERS, psid
from webapp.blueprints.sandbox.routes import bp, world


def courier() -> Courier:
    return current_app.extensions["facebook_sandbox_courier"]


def customers(page_id: str | None) -> list[dict[str, str]]:
    if not page_id:
        return []
    return [
        {"psid": psid(page_id, n), "name": f"{c['first_name']} {c['last_name']}"}
        for n, c in enumerate(CUSTOMERS, start=1)
    ]


@bp.get("/simulator")
def simulator_page() -> str:
    """Pick a connected page and a customer; send what a customer would, see what they got."""
    if not current_user.is_admin:
        abort(403)
    pages = world().installed_pages()
    page_id = request.args.get("page") or (pages[0]["id"] if pages else None)
    people = customers(page_id)
    customer = request.args.get("customer") or (people[0]["psid"] if people else None)
    return render_template(
        "sandbox/simulator.html", pages=pages, page_id=page_id, customers=people,
        customer=customer, courier=courier(), **seen_by(page_id, customer),
    )  # fmt: skip


def seen_by(page_id: str | None, customer: str | None) -> dict[str, Any]:
    """What the chosen customer sees: messages from the page, their comments and replies."""
    if not page_id or not customer:
        return {"received": [], "comments": [], "blocked": False, "name": ""}
    sandbox = world()
    received = [
        {**entry, "at": datetime.fromtimestamp(entry["at"] / 1000, UTC)}
        for entry in sandbox.received(page_id, customer)
    ]
    names = {c["psid"]: c["name"] for c in customers(page_id)}
    return {
        "received": received, "comments": sandbox.comments_of(page_id, customer),
        "blocked": sandbox.blocked(page_id, customer), "name": names.get(customer, ""),
    }  # fmt: skip


def act(
    action: str, page_id: str, customer: str, name: str, words: str
) -> tuple[str, dict[str, Any]]:
    """The webhook field and body for one customer action."""
    sandbox, base = world(), current_app.config["BASE_URL"]
    if action in ("text", "image", "sticker", "button"):
        new, body = {
            "text": lambda: simulator.text(page_id, customer, words or "Hello!"),
            "image": lambda: simulator.image(page_id, customer, base),
            "sticker": lambda: simulator.sticker(page_id, customer, base),
            "button": lambda: simulator.postback(page_id, customer, "Talk to an agent"),
        }[action]()
        if action != "button":
            sandbox.remember(page_id, customer, "message", new)
        if action == "text":  # only text can be edited
            sandbox.remember(page_id, customer, "text", new)
        return ("messaging_postbacks" if action == "button" else "messages"), body
    if action in ("react", "edit"):
        target = sandbox.recall(page_id, customer, "message" if action == "react" else "text")
        if target is None:
            abort(400)
        if action == "react":
            return "message_reactions", simulator.reaction(page_id, customer, target)
        return "message_edits", simulator.edit(page_id, customer, target, words or "(edited)")
    if action in ("comment", "reply"):
        comment_id = simulator.new_comment_id(page_id)
        parent = sandbox.recall(page_id, customer, "comment") if action == "reply" else None
        sandbox.remember(page_id, customer, "comment", comment_id)
        body = simulator.comment(
            page_id, verb="add", comment_id=comment_id, sender=(customer, name),
            words=words or "Is the shop open on Sunday?", parent_id=parent,
        )  # fmt: skip
        return "feed", body
    if action in ("edit-comment", "delete-comment"):
        target = sandbox.recall(page_id, customer, "comment") or abort(400)
        verb = "edited" if action == "edit-comment" else "remove"
        words_or_none = (words or "(edited)") if verb == "edited" else None
        body = simulator.comment(
            page_id, verb=verb, comment_id=target, sender=(customer, name), words=words_or_none
        )
        return "feed", body
    abort(404)


@bp.post("/simulator")
def simulate() -> Response:
    """Do what the customer does; Facebook posts the webhook afterwards."""
    if not current_user.is_admin:
        abort(403)
    form = request.form
    page_id, customer = form.get("page_id", ""), form.get("customer", "")
    names = {c["psid"]: c["name"] for c in customers(page_id)}
    if customer not in names:
        abort(400)
    back = redirect(url_for("sandbox.simulator_page", page=page_id, customer=customer))
    if form.get("action") == "open":
        open_messenger(page_id, customer, names[customer])
        return back
    field, body = act(
        form.get("action", ""), page_id, customer, names[customer], form.get("text", "")
    )
    simulator.stamp(body, world().now())
    world().observe(page_id, body)  # Facebook knows what its users did, webhook or not
    if world().subscribed(page_id, field):
        courier().send(body)
        flash(f"{names[customer]} did it; Facebook is delivering the webhook ({field}).", "success")
    else:
        flash(
            f"Facebook sends nothing: the app is not subscribed to {field} on this page.", "error"
        )
    return back


def open_messenger(page_id: str, customer: str, name: str) -> None:
    """The customer opens the page's thread: unread messages become read (a read receipt)."""
    webhooks = world().open_thread(page_id, customer)
    for body in webhooks:
        courier().send(body)
    if webhooks:
        flash(
            f"{name} read the page's messages; Facebook is delivering the read receipt.", "success"
        )
    else:
        flash(f"{name} opened Messenger; no read receipt to send.", "info")


@bp.post("/simulator/deliveries/<action>")
def deliveries(action: str) -> Response:
    """Hold webhooks back, release them (in order or reversed), or redeliver the last one."""
    if not current_user.is_admin:
        abort(403)
    if action == "hold":
        courier().hold()
        flash("Holding webhooks back until you release them.", "info")
    elif action in ("release", "release-reversed"):
        count = courier().release(reverse=action == "release-reversed")
        order = "in reverse order" if action == "release-reversed" else "in order"
        flash(f"Released {count} held webhook(s) {order}.", "success")
    elif action == "redeliver":
        done = courier().redeliver()
        flash("Delivered the last webhook again." if done else "Nothing was delivered yet.", "info")
    else:
        abort(404)
    return redirect(request.referrer or url_for("sandbox.simulator_page"))
