"""The inbox's reading side: lists with filters and counts, the change marker, one card."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Select, case, exists, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from webapp.facebook import policy
from webapp.models import (
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Mode,
    Source,
    utcnow,
)

PAGE_SIZE = 50
STATUSES = ("open", "pending", "closed", "all")
WHO = ("all", "mine", "unassigned")
SORTS = ("activity", "window")


@dataclass(frozen=True)
class Filters:
    """What the ticket list shows; every field comes from the query string."""

    status: str = "open"
    who: str = "all"
    channel_id: int | None = None
    source: str | None = None
    q: str = ""
    sort: str = "activity"
    page: int = 1
    chat_id: int | None = None  # a chat queue instead of tickets

    def with_(self, **changes: object) -> Filters:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Row:
    conversation: Conversation
    last_text: str | None
    window: policy.WindowState


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    counts: dict[str, int]
    total: int
    filters: Filters

    @property
    def pages(self) -> int:
        return max((self.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)


def _stamp(latest: datetime | None, now: datetime | None) -> str:
    # The minute is part of it: reply-window countdowns move on even when nothing else does.
    minute = (now or utcnow()).strftime("%Y%m%d%H%M")
    return f"{latest.isoformat() if latest else 'none'}.{minute}"


def marker(session: Session, *, now: datetime | None = None) -> str:
    """Changes whenever any conversation or message changes (one indexed MAX), and each minute."""
    return _stamp(session.scalar(select(func.max(Conversation.updated_at))), now)


def conversation_marker(
    session: Session, conversation_id: int, *, now: datetime | None = None
) -> str:
    """Changes whenever this conversation or one of its messages changes, and each minute."""
    latest = session.scalar(
        select(Conversation.updated_at).where(Conversation.id == conversation_id)
    )
    return _stamp(latest, now)


def _scope(filters: Filters, user_id: int) -> list:
    where: list = []
    if filters.chat_id is not None:
        where += [Conversation.mode == Mode.CHAT, Conversation.chat_channel_id == filters.chat_id]
    else:
        where.append(Conversation.mode == Mode.TICKET)
    if filters.who == "mine":
        where.append(Conversation.assignee_id == user_id)
    elif filters.who == "unassigned":
        where.append(Conversation.assignee_id.is_(None))
    if filters.channel_id:
        where.append(Conversation.channel_id == filters.channel_id)
    if filters.source in (Source.MESSENGER, Source.COMMENT):
        where.append(Conversation.source == filters.source)
    if q := filters.q.strip():
        pattern = f"%{q}%"
        said = exists().where(
            Message.conversation_id == Conversation.id, Message.text.ilike(pattern)
        )
        where.append(or_(Contact.name.ilike(pattern), said))
    return where


def _order(query: Select, filters: Filters, now: datetime) -> Select:
    if filters.sort == "window":
        # Open windows first, the one closing soonest on top; closed ones after.
        cutoff = now - policy.WINDOW
        closing = case((Conversation.last_customer_message_at > cutoff, 0), else_=1)
        return query.order_by(closing, Conversation.last_customer_message_at, Conversation.id)
    return query.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())


def listing(
    session: Session, filters: Filters, *, user_id: int, now: datetime | None = None
) -> Listing:
    """One page of conversations, and the count for each status filter in one query."""
    now = now or utcnow()
    scope = _scope(filters, user_id)
    counted = select(
        *[
            func.count().filter(Conversation.status == status).label(status)
            for status in ConversationStatus
        ],
        func.count().label("all"),
    ).select_from(Conversation)
    counts_row = session.execute(_joined(counted).where(*scope)).one()
    counts = dict(counts_row._mapping)
    where = [*scope]
    if filters.status in ("open", "pending", "closed"):
        where.append(Conversation.status == filters.status)
    last_text = (
        select(Message.text)
        .where(Message.conversation_id == Conversation.id, Message.direction != Direction.INTERNAL)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    page = max(filters.page, 1)
    query = _joined(select(Conversation, last_text)).where(*where)
    query = _order(query, filters, now).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    query = query.options(
        joinedload(Conversation.channel),
        joinedload(Conversation.contact),
        joinedload(Conversation.assignee),
    )
    rows = [
        Row(conversation, text, policy.reply_window(conversation.last_customer_message_at, now))
        for conversation, text in session.execute(query)
    ]
    total = counts.get(filters.status, counts["all"]) if filters.status in STATUSES else 0
    return Listing(rows, counts, total, filters)


def _joined(query: Select) -> Select:
    return query.join(Contact, Contact.id == Conversation.contact_id)


def card(session: Session, conversation_id: int) -> Conversation | None:
    """A conversation with everything its card shows, messages in order."""
    return session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(
            joinedload(Conversation.channel),
            joinedload(Conversation.contact),
            joinedload(Conversation.assignee),
            selectinload(Conversation.messages).joinedload(Message.author),
        )
    )


def unread_by_chat(session: Session) -> dict[int, int]:
    """Unread customer messages per chat channel (the badges next to each chat)."""
    query = (
        select(Conversation.chat_channel_id, func.sum(Conversation.unread_count))
        .where(Conversation.mode == Mode.CHAT, Conversation.status != ConversationStatus.CLOSED)
        .group_by(Conversation.chat_channel_id)
    )
    return {chat_id: int(total or 0) for chat_id, total in session.execute(query)}
