"""The Graph calls that answer customers: the Send API, attachment uploads, and the
page's replies, hiding and deleting on comments (reference §6, §8.2).

Joined into :class:`webapp.facebook.graph.GraphClient`, which brings ``request``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from webapp.facebook.errors import GraphError, OutcomeUnknownError


@dataclass(frozen=True)
class SendResult:
    """What the Send API answered: the message's ``mid``, and the PSID it went to."""

    message_id: str
    recipient_id: str | None
    attachment_id: str | None = None


class MessagingMixin:
    """Replying on Messenger and on page comments."""

    # GraphClient's own: one Graph call, the JSON answer or a typed error.
    request: Callable[..., Any]

    def send_message(
        self,
        page_id: str,
        page_token: str,
        *,
        recipient: dict[str, str],
        messaging_type: str | None,
        tag: str | None = None,
        text: str | None = None,
        attachment: dict[str, Any] | None = None,
        metadata: str | None = None,
    ) -> SendResult:
        """One message through the Send API; ``messaging_type`` None for a private reply."""
        message: dict[str, Any] = {}
        if text is not None:
            message["text"] = text
        if attachment is not None:
            message["attachment"] = attachment
        if metadata is not None:
            message["metadata"] = metadata  # comes back in the echo: how we know it is ours
        body: dict[str, Any] = {"recipient": recipient, "message": message}
        if messaging_type is not None:
            body["messaging_type"] = messaging_type
        if tag is not None:
            body["tag"] = tag
        answer = self.request(
            "POST", f"{page_id}/messages", token=page_token, json=body, acts_once=True
        )
        if not isinstance(answer, dict) or not answer.get("message_id"):
            # Accepted, but with nothing to match the echo against: don't send it again.
            raise OutcomeUnknownError("Facebook accepted the message without a message id.")
        return SendResult(
            message_id=str(answer["message_id"]),
            recipient_id=_id(answer.get("recipient_id")),
            attachment_id=_id(answer.get("attachment_id")),
        )

    def upload_attachment(
        self, page_id: str, page_token: str, *, kind: str, filename: str, content: bytes,
        mimetype: str,
    ) -> str:  # fmt: skip
        """Upload a file once (Attachment Upload API); its ``attachment_id`` for sends."""
        message = {"attachment": {"type": kind, "payload": {"is_reusable": True}}}
        answer = self.request(
            "POST",
            f"{page_id}/message_attachments",
            token=page_token,
            data={"message": json.dumps(message)},
            files={"filedata": (filename, content, mimetype)},
        )  # a second upload only wastes space: a lost answer is plainly transient
        attachment_id = _id(answer.get("attachment_id") if isinstance(answer, dict) else None)
        if not attachment_id:
            raise GraphError("Facebook did not return an attachment id.")
        return attachment_id

    def reply_to_comment(self, comment_id: str, page_token: str, *, text: str) -> str:
        """A public reply from the page under a comment; the new comment's id."""
        answer = self.request(
            "POST",
            f"{comment_id}/comments",
            token=page_token,
            data={"message": text},
            acts_once=True,
        )
        new_id = _id(answer.get("id") if isinstance(answer, dict) else None)
        if not new_id:
            raise OutcomeUnknownError("Facebook accepted the reply without its id.")
        return new_id

    def set_comment_hidden(self, comment_id: str, page_token: str, *, hidden: bool) -> None:
        """Hide a comment from everyone but its author and their friends, or show it again."""
        answer = self.request(
            "POST",
            comment_id,
            token=page_token,
            data={"is_hidden": "true" if hidden else "false"},
        )
        _confirmed(answer)

    def delete_comment(self, comment_id: str, page_token: str) -> None:
        """Remove a comment for good."""
        _confirmed(self.request("DELETE", comment_id, token=page_token))


def _id(value: Any) -> str | None:
    # Ids are strings: some exceed 2**53 and must never pass through a float.
    return None if value is None or value == "" else str(value)


def _confirmed(answer: Any) -> None:
    if not isinstance(answer, dict) or answer.get("success") not in (True, "true"):
        raise GraphError("Facebook did not confirm the change.")
