"""Facebook's webhook bodies: the signature, the envelope, and one typed event per item.

Ids stay strings (Python's json keeps big integers exact, and ``str`` them here);
Messenger times are milliseconds, feed times seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class MalformedWebhookError(ValueError):
    """A signed body that is not a page webhook; the message says what is wrong."""


def signature_valid(raw: bytes, header: str | None, app_secret: str) -> bool:
    """``X-Hub-Signature-256`` over the raw bytes, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256=").lower())


def sign(raw: bytes, app_secret: str) -> str:
    """The header value Facebook sends with ``raw``."""
    return "sha256=" + hmac.new(app_secret.encode(), raw, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WebhookItem:
    """One event of a delivery: the page it is for, its kind, when, and its JSON."""

    page_id: str
    kind: str
    occurred_at: datetime
    payload: dict[str, Any]


def from_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, UTC)


def from_seconds(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


MESSAGING_KINDS = (
    ("postback", "postback"),
    ("delivery", "delivery"),
    ("read", "read"),
    ("reaction", "reaction"),
    ("message_edit", "edit"),
    ("optin", "optin"),
    ("referral", "referral"),
    ("policy_enforcement", "policy"),
    ("account_linking", "account_linking"),
    ("pass_thread_control", "handover"),
    ("take_thread_control", "handover"),
)


def messaging_kind(event: dict[str, Any]) -> str:
    """What a ``messaging[]`` item is."""
    message = event.get("message")
    if isinstance(message, dict):
        return "echo" if message.get("is_echo") else "message"
    for key, kind in MESSAGING_KINDS:
        if key in event:
            return kind
    return "unknown"


def feed_kind(value: dict[str, Any]) -> str:
    """What a ``feed`` change is: comments matter; posts and reactions are recorded only."""
    item = value.get("item")
    if item == "comment":
        return "comment"
    if item in ("reaction", "like"):
        return "post_reaction"
    if item in ("post", "status", "photo", "video", "share"):
        return "page_post"
    return f"feed_{item or 'unknown'}"


def envelope(raw: bytes) -> list[dict[str, Any]]:
    """A delivery's entries; :class:`MalformedWebhookError` if it is not a page webhook."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedWebhookError(f"The body is not JSON: {error}") from None
    if not isinstance(body, dict) or body.get("object") != "page":
        raise MalformedWebhookError('The body is not a page webhook ("object": "page").')
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise MalformedWebhookError('The body has no "entry" list.')
    for entry in entries:
        if not isinstance(entry, dict) or "id" not in entry:
            raise MalformedWebhookError("An entry has no page id.")
    return entries


def split(raw: bytes) -> list[WebhookItem]:
    """Every event of a delivery, in body order; :class:`MalformedWebhookError` if it isn't one."""
    return [item for entry in envelope(raw) for item in _entry_items(entry)]


def _entry_items(entry: dict[str, Any]) -> list[WebhookItem]:
    page_id = str(entry["id"])
    items = []
    for key in ("messaging", "standby"):
        for event in entry.get(key) or []:
            kind = messaging_kind(event) if key == "messaging" else "standby"
            stamp = event.get("timestamp") or entry.get("time") or 0
            items.append(WebhookItem(page_id, kind, from_ms(stamp), event))
    for change in entry.get("changes") or []:
        value = change.get("value") or {}
        kind = feed_kind(value) if change.get("field") == "feed" else f"field_{change.get('field')}"
        stamp = value.get("created_time") or entry.get("time") or 0
        items.append(WebhookItem(page_id, kind, from_seconds(stamp), value))
    return items


# --- Typed events the helpdesk acts on ---------------------------------------------


@dataclass(frozen=True)
class Attachment:
    type: str
    url: str | None = None
    title: str | None = None
    sticker_id: str | None = None


@dataclass(frozen=True)
class MessengerMessage:
    """A customer's message (``is_echo`` false) or the page's (an echo)."""

    psid: str
    mid: str
    text: str | None
    sent_at: datetime
    attachments: tuple[Attachment, ...] = ()
    quick_reply: str | None = None
    reply_to: str | None = None
    app_id: str | None = None
    metadata: str | None = None


def attachments_of(message: dict[str, Any]) -> tuple[Attachment, ...]:
    """Attachments, with a sticker shown once whether it came old-style, new-style or both."""
    found: list[Attachment] = []
    for item in message.get("attachments") or []:
        payload = item.get("payload") or {}
        sticker = payload.get("sticker_id")
        kind = "sticker" if sticker is not None else str(item.get("type") or "fallback")
        found.append(
            Attachment(
                type=kind,
                url=payload.get("url"),
                title=payload.get("title") or item.get("title"),
                sticker_id=None if sticker is None else str(sticker),
            )
        )
    unique: dict[tuple[str, str | None, str | None], Attachment] = {}
    for attachment in found:
        key = (
            attachment.type,
            attachment.sticker_id,
            None if attachment.sticker_id else attachment.url,
        )
        unique.setdefault(key, attachment)
    return tuple(unique.values())


def messenger_message(event: dict[str, Any]) -> MessengerMessage:
    message = event["message"]
    echo = bool(message.get("is_echo"))
    psid = event["recipient" if echo else "sender"]["id"]
    return MessengerMessage(
        psid=str(psid),
        mid=str(message["mid"]),
        text=message.get("text"),
        sent_at=from_ms(event.get("timestamp") or 0),
        attachments=attachments_of(message),
        quick_reply=(message.get("quick_reply") or {}).get("payload"),
        reply_to=(message.get("reply_to") or {}).get("mid"),
        app_id=None if message.get("app_id") is None else str(message["app_id"]),
        metadata=message.get("metadata"),
    )


@dataclass(frozen=True)
class Comment:
    """A feed change about a comment."""

    verb: str
    comment_id: str
    post_id: str
    parent_id: str | None
    from_id: str | None
    from_name: str | None
    text: str | None
    created_at: datetime
    post_url: str | None = None
    is_hidden: bool | None = field(default=None)

    @property
    def is_reply(self) -> bool:
        """A reply in a thread: its parent is a comment, not the post."""
        return bool(self.parent_id) and self.parent_id != self.post_id


def comment(value: dict[str, Any]) -> Comment:
    sender = value.get("from") or {}
    post = value.get("post") or {}
    hidden = value.get("is_hidden")
    return Comment(
        verb=str(value.get("verb")),
        comment_id=str(value["comment_id"]),
        post_id=str(value.get("post_id") or post.get("id") or ""),
        parent_id=None if value.get("parent_id") is None else str(value["parent_id"]),
        from_id=None if sender.get("id") is None else str(sender["id"]),
        from_name=sender.get("name"),
        text=value.get("message"),
        created_at=from_seconds(value.get("created_time") or 0),
        post_url=post.get("permalink_url"),
        is_hidden=None if hidden is None else bool(hidden),
    )
