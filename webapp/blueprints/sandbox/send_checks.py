"""The Send API's pieces that need no clock or token: message bodies, tags, attachments,
the failure knobs, and the shapes of echo, delivery and read webhooks (reference §5.5, §6).

They work on the world's JSON state, handed in by :mod:`messenger` under its lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from webapp.blueprints.sandbox.data import GraphFailure

UPLOAD_LIMIT = 25 * 1024 * 1024
TEXT_LIMIT = 2000
METADATA_LIMIT = 1000
TAG_WINDOW = 7 * 24 * 3600
MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG", "NON_PROMOTIONAL_SUBSCRIPTION")
LIVE_TAGS = ("HUMAN_AGENT", "CUSTOMER_FEEDBACK", "NON_PROMOTIONAL_SUBSCRIPTION")
# 27 April 2026: error 100 (reference §7.2). Then the tags dropped on 4 March 2020.
RETIRED_TAGS = ("ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE")
OLD_TAGS = (
    "PAIRING_UPDATE", "APPLICATION_UPDATE", "PAYMENT_UPDATE", "PERSONAL_FINANCE_UPDATE",
    "SHIPPING_UPDATE", "RESERVATION_UPDATE", "ISSUE_RESOLUTION", "APPOINTMENT_UPDATE",
    "GAME_EVENT", "TRANSPORTATION_UPDATE", "FEATURE_FUNCTIONALITY_UPDATE", "TICKET_UPDATE",
    "COMMUNITY_ALERT",
)  # fmt: skip
MEDIA = ("image", "video", "audio", "file")
OUTSIDE = (
    "(#10) This message is sent outside of allowed window. Learn more about the new policy"
    " here: https://developers.facebook.com/docs/messenger-platform/policy-overview"
)
# How the failure knob spoils a send: before anything happens, or after delivery.
BEFORE = {
    "transient": lambda: GraphFailure("(#2) Service temporarily unavailable", 2, status=500),
    "rate_limit": lambda: GraphFailure(
        "(#613) Calls to this api have exceeded the rate limit.", 613
    ),
    "permanent": lambda: GraphFailure(
        "(#551) This person isn't available right now.", 551, 1545041
    ),
    "dead_token": lambda: GraphFailure(
        "Error validating access token: The session has been invalidated because the user"
        " changed their password or Facebook has changed the session for security reasons.",
        190,
        460,
    ),
}
AFTER = ("ambiguous", "timeout")
MODES = (*BEFORE, *AFTER)


@dataclass
class Outcome:
    """What a call answers, the webhooks it causes, and how the knobs spoil the answer."""

    answer: dict[str, Any]
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    failure: GraphFailure | None = None
    delay: float = 0.0


def closed(subcode: int = 2018278, text: str = OUTSIDE) -> GraphFailure:
    """Facebook's "outside of allowed window" refusal (10/2018278)."""
    return GraphFailure(text, 10, subcode)


def book(world: dict[str, Any]) -> dict[str, Any]:
    """The Send API's part of the world (made on first use: older state files lack it)."""
    messenger = world.setdefault("messenger", {})
    for key in ("last_action", "received", "attachments"):
        messenger.setdefault(key, {})
    messenger.setdefault("blocked", [])
    return messenger


# --- Failure knobs ---------------------------------------------------------------------


def take_failure(world: dict[str, Any], page_id: str, *, after: bool) -> GraphFailure | None:
    """Use up one of the page's spoiled sends, if one of this kind is waiting."""
    knob = _take(world, page_id, after=after)
    return BEFORE[knob["mode"]]() if knob else None


def spoil(world: dict[str, Any], page_id: str, outcome: Outcome) -> None:
    """After a real delivery: lose the answer (1/1357046) or answer too late."""
    knob = _take(world, page_id, after=True)
    if knob and knob["mode"] == "ambiguous":
        outcome.failure = GraphFailure("(#1) Received Invalid JSON reply.", 1, 1357046, 500)
    elif knob:
        outcome.delay = float(knob["sleep"])


def _take(world: dict[str, Any], page_id: str, *, after: bool) -> dict[str, Any] | None:
    page = world["pages"][page_id]
    knob = page.get("send_failure")
    if not knob or (knob["mode"] in AFTER) != after:
        return None
    knob["times"] -= 1
    if knob["times"] <= 0:
        page["send_failure"] = None
    return dict(knob)


# --- The body ----------------------------------------------------------------------------


def checked_message(message: Any) -> dict[str, Any]:
    """``message`` as Facebook accepts it: text or one attachment, and short enough."""
    if not isinstance(message, dict):
        raise GraphFailure("(#100) param message must be a JSON object", 100)
    text, attachment = message.get("text"), message.get("attachment")
    if text is not None and attachment is not None:
        raise GraphFailure("(#100) Only one of text or attachment can be specified", 100)
    if text is None and attachment is None:
        raise GraphFailure("(#100) Must send either message text or an attachment", 100)
    if text is not None and (not isinstance(text, str) or not text):
        raise GraphFailure("(#100) param message[text] must be a non-empty UTF-8 string", 100)
    if text is not None and len(text) >= TEXT_LIMIT:
        raise GraphFailure(
            f"(#100) Length of param message[text] must be less than or equal to {TEXT_LIMIT}",
            100,
        )
    metadata = message.get("metadata")
    if metadata is not None and (not isinstance(metadata, str) or len(metadata) >= METADATA_LIMIT):
        raise GraphFailure(
            f"(#100) Length of param message[metadata] must be less than or equal to"
            f" {METADATA_LIMIT}",
            100,
        )
    return message


def check_tag(tag: Any, kind: Any) -> None:
    """Tags Facebook knows today; retired and pre-2020 ones are error 100."""
    if kind is not None and kind not in MESSAGING_TYPES:
        raise GraphFailure(
            f"(#100) Param messaging_type must be one of {{{', '.join(MESSAGING_TYPES)}}}", 100
        )
    if tag is None or tag in LIVE_TAGS:
        return
    if tag in RETIRED_TAGS or tag in OLD_TAGS:
        raise GraphFailure(
            f"(#100) The message tag {tag} is no longer supported: use utility messages", 100
        )
    raise GraphFailure("(#100) Param tag must be one of {HUMAN_AGENT, CUSTOMER_FEEDBACK}", 100)


def check_tagged(tag: Any, age: float, message: dict[str, Any], *, human_agent: bool) -> None:
    """``MESSAGE_TAG``: HUMAN_AGENT needs the feature, CUSTOMER_FEEDBACK its template; 7 days."""
    if tag is None:
        raise GraphFailure("(#100) Param tag is required for messaging_type MESSAGE_TAG", 100)
    if tag == "HUMAN_AGENT" and not human_agent:
        # 2018276 is the subcode integrations report for this; unconfirmed (reference §6.3).
        raise GraphFailure(
            "(#100) Cannot tag messages with 'HUMAN_AGENT' without prior approval", 100, 2018276
        )
    payload = (message.get("attachment") or {}).get("payload") or {}
    if tag == "CUSTOMER_FEEDBACK" and payload.get("template_type") != "customer_feedback":
        raise GraphFailure(
            "(#100) The CUSTOMER_FEEDBACK tag can only be sent with the customer feedback template",
            100,
        )
    if age > TAG_WINDOW:
        raise closed()


# --- Attachments -----------------------------------------------------------------------


def attachments_of(
    world: dict[str, Any], page_id: str, message: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """The attachments as the echo shows them, and a new reusable id when one was asked for."""
    attachment = message.get("attachment")
    if attachment is None:
        return [], None
    kind = attachment.get("type") if isinstance(attachment, dict) else None
    payload = attachment.get("payload") if isinstance(attachment, dict) else None
    if kind not in (*MEDIA, "template") or not isinstance(payload, dict):
        raise GraphFailure(
            "(#100) Param message[attachment][type] must be one of"
            " {image, audio, video, file, template}",
            100,
        )
    if kind == "template":
        return [{"type": "template", "payload": payload}], None
    if payload.get("attachment_id"):
        saved = book(world)["attachments"].get(str(payload["attachment_id"]))
        if saved is None or saved["page_id"] != page_id:
            # The subcode for an unknown attachment id is unconfirmed (reference §6.3).
            raise GraphFailure("(#100) Invalid attachment_id", 100, 2018047)
        return [{"type": kind, "payload": {"url": saved["url"]}}], None
    url = payload.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise GraphFailure("(#100) Failed to fetch the file from the url", 100, 2018008)
    reusable = None
    if payload.get("is_reusable"):
        reusable = _save(world, page_id, kind=kind, name=url.rsplit("/", 1)[-1], size=None)
        book(world)["attachments"][reusable]["url"] = url
    return [{"type": kind, "payload": {"url": url}}], reusable


def store_upload(world: dict[str, Any], page_id: str, *, kind: Any, name: str, size: int) -> str:
    """An uploaded file (its name and size only): refused over 25 MB."""
    if kind not in MEDIA:
        raise GraphFailure(
            "(#100) Param message[attachment][type] must be one of {image, audio, video, file}",
            100,
        )
    if size > UPLOAD_LIMIT:
        raise GraphFailure("(#100) Attachment size exceeds allowable limit", 100, 2018109)
    return _save(world, page_id, kind=kind, name=name, size=size)


def _save(world: dict[str, Any], page_id: str, *, kind: str, name: str, size: int | None) -> str:
    attachment_id = str(1_800_000_000_000_000 + secrets.randbelow(10**14))
    book(world)["attachments"][attachment_id] = {
        "page_id": page_id, "type": kind, "name": name, "size": size,
        "url": f"https://cdn.fbsbx.com/sandbox/{attachment_id}/{quote(name)}",
    }  # fmt: skip
    return attachment_id


# --- Webhook shapes ------------------------------------------------------------------------


def event(sender: str, recipient: str, timestamp: int, **body: Any) -> dict[str, Any]:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": timestamp,
            **body}  # fmt: skip


def envelope(page_id: str, time_ms: int, events: list[dict[str, Any]]) -> dict[str, Any]:
    """One POST: several events of one moment may share it (reference §5.3)."""
    return {"object": "page", "entry": [{"id": page_id, "time": time_ms, "messaging": events}]}


def echo(page_id: str, psid: str, entry: dict[str, Any], app_id: str) -> dict[str, Any]:
    """``message_echoes``: the page's own message, with our ``app_id`` as a JSON number."""
    message: dict[str, Any] = {"is_echo": True, "app_id": _number(app_id)}
    if entry["metadata"] is not None:
        message["metadata"] = entry["metadata"]
    message["mid"] = entry["mid"]
    if entry["text"] is not None:
        message["text"] = entry["text"]
    else:
        message["attachments"] = entry["attachments"]
    return event(page_id, psid, entry["at"], message=message)


def _number(app_id: str) -> int | str:
    return int(app_id) if app_id.isdigit() else app_id
