"""Facebook's URLs for answering customers: the Send API, attachment uploads, and the
page's public replies, hiding and deleting on comments. The webhooks that follow go
through the courier's background queue.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Response, jsonify, request

from webapp.blueprints.sandbox.data import GraphFailure
from webapp.blueprints.sandbox.routes import bp, check_version, request_token, world
from webapp.blueprints.sandbox.send_checks import Outcome
from webapp.blueprints.sandbox.simulator_routes import courier
from webapp.extensions import csrf
from webapp.web import public


def answer(outcome: Outcome) -> Response:
    """Queue the webhooks, then answer as the knobs say: late, lost, or plainly."""
    for body in outcome.webhooks:
        courier().send(body)
    if outcome.delay:
        time.sleep(outcome.delay)  # longer than the client waits: it sees a read timeout
    if outcome.failure:
        raise outcome.failure
    return jsonify(outcome.answer)


def parameters(*objects: str) -> dict[str, Any]:
    """The call's parameters, from a JSON body or form fields (``objects`` as JSON text)."""
    if request.is_json:
        values = request.get_json(silent=True)
        if not isinstance(values, dict):
            raise GraphFailure("(#100) The request body must be a JSON object", 100)
        return values
    values = request.form.to_dict()
    for name in objects:
        if isinstance(values.get(name), str):
            try:
                values[name] = json.loads(values[name])
            except ValueError:
                raise GraphFailure(f"(#100) param {name} must be a JSON object", 100) from None
    return values


@bp.post("/graph/<version>/<page_id>/messages")
@csrf.exempt
@public
def send_message(version: str, page_id: str) -> Response:
    """The Send API (``page_id`` may be ``me``): a message, an echo and a delivery receipt."""
    check_version(version)
    return answer(world().send(page_id, request_token(), parameters("recipient", "message")))


@bp.post("/graph/<version>/<page_id>/message_attachments")
@csrf.exempt
@public
def upload_attachment(version: str, page_id: str) -> Response:
    """The Attachment Upload API: multipart ``filedata`` and ``message``; an attachment id."""
    check_version(version)
    upload = request.files.get("filedata")
    if upload is None:
        raise GraphFailure("(#100) Upload attachment failure: filedata is required", 100)
    message = parameters("message").get("message")
    attachment = message.get("attachment") if isinstance(message, dict) else None
    kind = attachment.get("type") if isinstance(attachment, dict) else None
    upload.stream.seek(0, 2)  # the end: its size, without reading it
    size = upload.stream.tell()
    attachment_id = world().upload(
        page_id, request_token(), kind=kind, name=upload.filename or "file", size=size
    )
    return jsonify({"attachment_id": attachment_id})


@bp.post("/graph/<version>/<comment_id>/comments")
@csrf.exempt
@public
def reply_to_comment(version: str, comment_id: str) -> Response:
    """The page's public reply under a comment."""
    check_version(version)
    return answer(
        world().reply_to_comment(comment_id, request_token(), parameters().get("message"))
    )


@bp.post("/graph/<version>/<object_id>")
@csrf.exempt
@public
def update_object(version: str, object_id: str) -> Response:
    """Hide or show a comment (``is_hidden``)."""
    check_version(version)
    return answer(world().set_hidden(object_id, request_token(), parameters().get("is_hidden")))


@bp.delete("/graph/<version>/<object_id>")
@csrf.exempt
@public
def delete_object(version: str, object_id: str) -> Response:
    """Delete a comment."""
    check_version(version)
    return answer(world().delete_comment(object_id, request_token()))
