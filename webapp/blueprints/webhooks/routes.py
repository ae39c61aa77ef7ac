"""``/webhooks/facebook``: verification, signed deliveries; ``/webhooks/log`` for admins."""

from __future__ import annotations

import json
import secrets

from flask import Blueprint, abort, current_app, flash, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from webapp.extensions import csrf, db
from webapp.facebook.webhooks import MalformedWebhookError, signature_valid
from webapp.helpdesk import inbound, intake, webhook_log
from webapp.web import public, render, require_admin

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def plain(text: str, status: int) -> Response:
    response = make_response(text, status)
    response.mimetype = "text/plain"
    return response


@bp.get("/healthz", endpoint="healthz")
@public
def healthz() -> Response:
    """For load balancers and benchmarks: the app answers, nothing more."""
    return plain("ok", 200)


@bp.get("/facebook")
@public
def verify() -> Response:
    """Facebook's check of the callback URL: echo the challenge for our verify token."""
    token = request.args.get("hub.verify_token", "")
    expected = current_app.config["FACEBOOK_VERIFY_TOKEN"]
    if request.args.get("hub.mode") != "subscribe" or not secrets.compare_digest(token, expected):
        return plain("Forbidden", 403)
    return plain(request.args.get("hub.challenge", ""), 200)


@bp.post("/facebook")
@csrf.exempt
@public
def receive() -> Response:
    """Keep a signed delivery exactly as received, then answer 200; processing comes after."""
    if (request.content_length or 0) > intake.MAX_BODY_BYTES:
        return plain("Payload too large", 413)
    raw = request.get_data(cache=False)
    if len(raw) > intake.MAX_BODY_BYTES:
        return plain("Payload too large", 413)
    header = request.headers.get("X-Hub-Signature-256")
    if not signature_valid(raw, header, current_app.config["FACEBOOK_APP_SECRET"]):
        return plain("Bad signature", 403)
    try:
        intake.store_delivery(db.engine, raw)
    except MalformedWebhookError as error:
        return plain(str(error), 400)
    except intake.NotStoredError:  # nothing half-written stays; Facebook retries a non-200
        current_app.logger.exception("A webhook delivery could not be stored")
        return plain("Try again later", 503)
    if worker := current_app.extensions.get("webhook_worker"):
        worker.wake()
    return plain("EVENT_RECEIVED", 200)


@bp.get("/log")
def log() -> Response:
    """Recent deliveries and events, with their outcome; filter by outcome and page."""
    require_admin()
    status, page_id = request.args.get("status") or None, request.args.get("page") or None
    events = webhook_log.recent_events(db.session, status=status, page_id=page_id)
    return render(
        "webhooks/log.html", "event_rows", events=events, status=status, page_id=page_id,
        pages=webhook_log.pages(db.session), rejected=webhook_log.rejected(db.session),
        waiting=webhook_log.waiting(db.session),
    )  # fmt: skip


@bp.get("/log/deliveries/<int:delivery_id>")
def delivery(delivery_id: int) -> Response:
    """One delivery's raw body, pretty-printed, and its events."""
    require_admin()
    found = webhook_log.get_delivery(db.session, delivery_id) or abort(404)
    return render("webhooks/delivery.html", delivery=found, pretty=pretty(found.body))


@bp.post("/log/events/<int:event_id>/rerun")
def rerun(event_id: int) -> Response:
    """Queue an event again and process it."""
    require_admin()
    inbound.rerun(db.session, event_id=event_id)
    if worker := current_app.extensions.get("webhook_worker"):
        worker.wake()
    flash(f"Event {event_id} is queued again.", "success")
    return redirect(request.referrer or url_for("webhooks.log"))


def pretty(body: bytes) -> str:
    """The body as indented JSON when it is JSON, else as text (escaped by the template)."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body.decode("utf-8", errors="replace")
