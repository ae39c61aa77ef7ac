"""Writing to a customer: the composer's checks, then the reply stored in the outbox.

Nothing here calls Facebook: a reply is checked against Facebook's rules and
queued; :mod:`webapp.helpdesk.outbox` sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from webapp.facebook import content, policy
from webapp.helpdesk import channels
from webapp.helpdesk.errors import DomainError, NotFoundError
from webapp.helpdesk.threads import add_message
from webapp.models import (
    Conversation,
    Direction,
    Message,
    MessageKind,
    OutboundStatus,
    Route,
    Source,
    Upload,
    utcnow,
)

# A composer's text (20,000 characters at most) splits into at most 11 messages, plus a file.
MAX_PARTS = 16


class ReplyRefusedError(DomainError):
    """Nothing was queued; the message says why, in the composer."""


class TextTooLongError(ReplyRefusedError):
    def __init__(self, message: str, parts: int) -> None:
        super().__init__(message)
        self.parts = parts


class ConfirmationNeededError(ReplyRefusedError):
    """A message after the window: the agent must confirm it is not promotional."""

    def __init__(self, terms: list[str], kind: policy.Kind) -> None:
        self.terms = terms
        found = ", ".join(f"“{term}”" for term in terms)
        lead = f"This may be promotional ({found}). " if terms else ""
        what = "Subscription" if kind is policy.Kind.SUBSCRIPTION else "Human Agent"
        super().__init__(
            f"{lead}{what} messages must not contain promotional or marketing content,"
            " news of promotions or special offers. Edit the text, or confirm it has none."
        )


@dataclass(frozen=True)
class FilePart:
    """A file attached in the composer."""

    name: str
    mimetype: str
    data: bytes


@dataclass(frozen=True)
class Draft:
    """What the agent wrote and chose in the composer."""

    text: str = ""
    kind: policy.Kind = policy.Kind.STANDARD
    split: bool = False
    confirmed: bool = False
    attachment_url: str | None = None
    file: FilePart | None = None
    client_key: str | None = None


def get_conversation(session: Session, conversation_id: int) -> Conversation:
    """The conversation with this id, or :class:`NotFoundError`."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFoundError("That conversation no longer exists.")
    return conversation


def attachment_kind(mimetype: str) -> str:
    """Facebook's attachment type for a file's MIME type."""
    major = mimetype.split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "file"


def reply(
    session: Session,
    *,
    conversation_id: int,
    author_id: int,
    draft: Draft,
    now: datetime | None = None,
) -> list[Message]:
    """Check the draft against Facebook's rules and queue it: one message per part."""
    now = now or utcnow()
    conversation = get_conversation(session, conversation_id)
    if existing := _already_queued(session, draft.client_key):
        return existing
    if conversation.source is Source.COMMENT:
        return [_comment_reply(session, conversation, author_id, draft, now)]
    _check_policy(conversation, draft, now)
    parts = _texts(draft)
    attachments = _attachments(session, draft, author_id)
    items: list[tuple[str | None, list[dict]]] = [(text, []) for text in parts]
    items += [(None, [attachment]) for attachment in attachments]
    if not items:
        raise ReplyRefusedError("Write a message or attach a file first.")
    messages = [
        _queue(
            session,
            conversation,
            author_id,
            text=text,
            attachments=files,
            kind=draft.kind,
            route=Route.MESSENGER,
            key=_part_key(draft.client_key, index),
            now=now,
        )  # fmt: skip
        for index, (text, files) in enumerate(items)
    ]
    return _commit(session, messages, draft.client_key)


def _check_policy(conversation: Conversation, draft: Draft, now: datetime) -> None:
    rules = channels.messaging_rules(conversation.channel)
    try:
        policy.plan_send(draft.kind, conversation.last_customer_message_at, now, rules)
    except policy.PolicyError as error:
        raise ReplyRefusedError(str(error)) from None
    if draft.kind is policy.Kind.STANDARD or draft.confirmed:
        return
    # Facebook forbids promotion after the window. A subscription message is always
    # confirmed by the agent; a Human Agent reply only when it looks promotional.
    terms = content.promotional_terms(
        draft.text, channels.promotional_terms_for(conversation.channel)
    )
    if terms or draft.kind is policy.Kind.SUBSCRIPTION:
        raise ConfirmationNeededError(terms, draft.kind)


def _texts(draft: Draft) -> list[str]:
    text = draft.text.strip()
    if not text:
        return []
    if len(text) < content.TEXT_LIMIT:
        return [text]
    parts = content.split_text(text)
    if not draft.split:
        raise TextTooLongError(
            f"Facebook allows fewer than {content.TEXT_LIMIT:,} characters in a message; this one"
            f" has {len(text):,}. Send it as {len(parts)} messages?",
            len(parts),
        )
    return parts


def _attachments(session: Session, draft: Draft, author_id: int) -> list[dict]:
    if draft.file is not None:
        kind = attachment_kind(draft.file.mimetype)
        if problem := content.attachment_problem(kind, len(draft.file.data)):
            raise ReplyRefusedError(problem)
        upload = Upload(
            name=draft.file.name[:255] or "file", mimetype=draft.file.mimetype[:100],
            size=len(draft.file.data), data=draft.file.data, uploaded_by_id=author_id,
        )  # fmt: skip
        session.add(upload)
        session.flush()
        return [{"type": kind, "upload_id": upload.id, "name": upload.name, "size": upload.size}]
    if draft.attachment_url:
        url = draft.attachment_url.strip()
        if not url.startswith("https://"):
            raise ReplyRefusedError("An attachment link must start with https://.")
        name = url.rsplit("/", 1)[-1].split("?")[0] or url
        kind = "image" if name.lower().endswith((".png", ".jpg", ".jpeg", ".gif")) else "file"
        return [{"type": kind, "url": url, "name": name}]
    return []


def _comment_reply(
    session: Session, conversation: Conversation, author_id: int, draft: Draft, now: datetime
) -> Message:
    text = draft.text.strip()
    if not text:
        raise ReplyRefusedError("Write a reply first.")
    target = _latest_customer_comment(session, conversation)
    message = _queue(
        session, conversation, author_id, text=text, attachments=[], kind=policy.Kind.STANDARD,
        route=Route.COMMENT_REPLY, key=draft.client_key, now=now,
        target=target or conversation.thread_id,
    )  # fmt: skip
    return _commit(session, [message], draft.client_key)[0]


def _latest_customer_comment(session: Session, conversation: Conversation) -> str | None:
    query = (
        select(Message.facebook_id)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.INBOUND,
            Message.deleted_at.is_(None),
        )
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def reply_privately(
    session: Session,
    *,
    comment_id: int,
    author_id: int,
    text: str,
    client_key: str | None = None,
    now: datetime | None = None,
) -> Message:
    """A Messenger message to the person who wrote this comment (once, within 7 days)."""
    now = now or utcnow()
    comment = session.get(Message, comment_id)
    if comment is None or comment.conversation.source is not Source.COMMENT:
        raise NotFoundError("That comment no longer exists.")
    if existing := _already_queued(session, client_key):
        return existing[0]
    if problem := private_reply_problem(session, comment, now):
        raise ReplyRefusedError(problem)
    if problems := content.text_problems(text):
        raise ReplyRefusedError(problems[0])
    message = _queue(
        session, comment.conversation, author_id, text=text.strip(), attachments=[],
        kind=policy.Kind.STANDARD, route=Route.PRIVATE_REPLY, key=client_key, now=now,
        target=comment.facebook_id,
    )  # fmt: skip
    return _commit(session, [message], client_key)[0]


def private_reply_problem(session: Session, comment: Message, now: datetime) -> str | None:
    """Why this comment cannot get a private reply now, or None (also counts queued ones)."""
    used = private_replies_used(session, comment.conversation_id)
    return _private_problem(comment, used, now)


def private_replies_used(session: Session, conversation_id: int) -> set[str]:
    """The comments of a thread that already have a private reply, sent or on its way."""
    query = select(Message.target_comment_id).where(
        Message.conversation_id == conversation_id,
        Message.route == Route.PRIVATE_REPLY,
        Message.status != OutboundStatus.FAILED,
    )
    return {target for target in session.scalars(query) if target}


def private_reply_allowed(
    session: Session, conversation: Conversation, messages: list[Message], now: datetime
) -> dict[int, bool]:
    """For each customer comment among these: may it still get its one private reply?"""
    used = private_replies_used(session, conversation.id)
    return {
        message.id: _private_problem(message, used, now) is None
        for message in messages
        if message.direction is Direction.INBOUND
    }


def _private_problem(comment: Message, used: set[str], now: datetime) -> str | None:
    if comment.direction is not Direction.INBOUND or comment.deleted_at is not None:
        return "Only a customer's comment that is still on Facebook can get a private reply."
    replied = comment.privately_replied_at or (now if comment.facebook_id in used else None)
    return policy.private_reply_problem(comment.sent_at, replied, now)


def add_note(
    session: Session,
    *,
    conversation_id: int,
    author_id: int,
    text: str,
    now: datetime | None = None,
) -> Message:
    """An internal note: for the team only, never sent to Facebook."""
    conversation = get_conversation(session, conversation_id)
    if not text.strip():
        raise ReplyRefusedError("Write the note first.")
    note = add_message(
        session, conversation, direction=Direction.INTERNAL, kind=MessageKind.NOTE,
        author_user_id=author_id, text=text.strip()[:10000], sent_at=now or utcnow(),
    )  # fmt: skip
    session.commit()
    return note


def _queue(
    session: Session,
    conversation: Conversation,
    author_id: int,
    *,
    text: str | None,
    attachments: list[dict],
    kind: policy.Kind,
    route: Route,
    key: str | None,
    now: datetime,
    target: str | None = None,
) -> Message:
    return add_message(
        session, conversation, direction=Direction.OUTBOUND, author_user_id=author_id,
        text=text, attachments=attachments, kind=MessageKind(kind.value), route=route,
        status=OutboundStatus.QUEUED, next_attempt_at=now, sent_at=now, client_key=key,
        target_comment_id=target,
    )  # fmt: skip


def _part_key(key: str | None, index: int) -> str | None:
    return None if key is None else (key if index == 0 else f"{key}:{index}")


def _already_queued(session: Session, key: str | None) -> list[Message]:
    if not key:
        return []
    # Exact keys (an IN list), never a LIKE: the lookup stays on the unique index.
    keys = [_part_key(key, index) for index in range(MAX_PARTS)]
    query = select(Message).where(Message.client_key.in_(keys)).order_by(Message.id)
    return list(session.scalars(query))


def _commit(session: Session, messages: list[Message], key: str | None) -> list[Message]:
    """Commit the queued replies; a double-submitted composer gets the first one's.

    Their conversation's change marker moves with them (``models``' flush hook).
    """
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if existing := _already_queued(session, key):
            return existing
        raise
    return messages
