"""The webhooks a sandbox customer's actions cause, in Facebook's shapes (reference §5)."""

from __future__ import annotations

import secrets
import time
from typing import Any

IMAGE_URL = "/sandbox/facebook/picture/{psid}.svg"
STICKER_ID = 369239263222822  # the "like" sticker


def now_ms() -> int:
    return int(time.time() * 1000)


def stamp(body: dict[str, Any], now: float) -> dict[str, Any]:
    """Put Facebook's clock on a body: ms for Messenger events, seconds for feed changes.

    The sandbox's clock can be moved (``advance_clock``): webhooks must agree with
    what the Send API believes about the customer's last action.
    """
    for entry in body.get("entry", []):
        entry["time"] = int(now * 1000) if "messaging" in entry else int(now)
        for event in entry.get("messaging", []):
            event["timestamp"] = int(now * 1000)
        for change in entry.get("changes", []):
            change["value"]["created_time"] = int(now)
    return body


def mid() -> str:
    return "m_" + secrets.token_urlsafe(24)


def messaging(page_id: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": page_id, "time": now_ms(), "messaging": [event]}]}


def from_customer(page_id: str, psid: str, **body: Any) -> dict[str, Any]:
    event = {"sender": {"id": psid}, "recipient": {"id": page_id}, "timestamp": now_ms(), **body}
    return messaging(page_id, event)


def text(page_id: str, psid: str, words: str) -> tuple[str, dict[str, Any]]:
    new = mid()
    return new, from_customer(page_id, psid, message={"mid": new, "text": words})


def image(page_id: str, psid: str, base_url: str) -> tuple[str, dict[str, Any]]:
    new = mid()
    url = base_url.rstrip("/") + IMAGE_URL.format(psid=psid)
    attachment = {"type": "image", "payload": {"url": url}}
    return new, from_customer(page_id, psid, message={"mid": new, "attachments": [attachment]})


def sticker(page_id: str, psid: str, base_url: str) -> tuple[str, dict[str, Any]]:
    """A sticker in both forms at once, as during Facebook's 2026 transition."""
    new = mid()
    payload = {"url": base_url.rstrip("/") + "/static/favicon.svg", "sticker_id": STICKER_ID}
    attachments = [{"type": "sticker", "payload": payload}, {"type": "image", "payload": payload}]
    return new, from_customer(page_id, psid, message={"mid": new, "attachments": attachments})


def postback(page_id: str, psid: str, title: str) -> tuple[str, dict[str, Any]]:
    new = mid()
    tap = {"mid": new, "title": title, "payload": title.upper().replace(" ", "_")}
    return new, from_customer(page_id, psid, postback=tap)


def reaction(page_id: str, psid: str, target: str) -> dict[str, Any]:
    body = {"reaction": "love", "emoji": "\u2764\ufe0f", "action": "react", "mid": target}
    return from_customer(page_id, psid, reaction=body)


def edit(page_id: str, psid: str, target: str, words: str) -> dict[str, Any]:
    return from_customer(page_id, psid, message_edit={"mid": target, "text": words, "num_edit": 1})


def post_id(page_id: str) -> str:
    return f"{page_id}_900000000000001"


def comment(
    page_id: str,
    *,
    verb: str,
    comment_id: str,
    sender: tuple[str, str],
    words: str | None = None,
    parent_id: str | None = None,
    at: float | None = None,
) -> dict[str, Any]:
    """A feed change about a comment on the page's pinned post (times in seconds)."""
    post, seconds = post_id(page_id), int(time.time() if at is None else at)
    value: dict[str, Any] = {
        "from": {"id": sender[0], "name": sender[1]},
        "post": {"id": post, "status_type": "mobile_status_update", "is_published": True},
        "post_id": post, "comment_id": comment_id, "created_time": seconds,
        "item": "comment", "parent_id": parent_id or post, "verb": verb,
    }  # fmt: skip
    if words is not None:
        value["message"] = words
    if verb in ("hide", "unhide"):
        value["is_hidden"] = verb == "hide"
    change = {"field": "feed", "value": value}
    return {
        "object": "page",
        "entry": [{"id": page_id, "time": seconds, "changes": [change]}],
    }


def new_comment_id(page_id: str) -> str:
    return f"900000000000001_{secrets.randbelow(10**15):015d}"
