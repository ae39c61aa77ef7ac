"""The inbox's reading side: lists with filters and counts, the change marker, one card."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import func, or_, select
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
        named = select(Contact.id).where(Contact.name.ilike(pattern))
        said = select(Message.conversation_id).where(Message.text.ilike(pattern))
        where.append(or_(Conversation.contact_id.in_(named), Conversation.id.in_(said)))
    return where


def _counts(session: Session, scope: list) -> dict[str, int]:
    counted = select(
        *[
            func.count().filter(Conversation.status == status).label(status)
            for status in ConversationStatus
        ],
        func.count().label("all"),
    ).select_from(Conversation)
    return dict(session.execute(counted.where(*scope)).one()._mapping)


def _page_ids(session: Session, where: list, filters: Filters, now: datetime) -> list[int]:
    """The ids on this page, in the list's order."""
    offset = (max(filters.page, 1) - 1) * PAGE_SIZE
    ids = select(Conversation.id).where(*where)
    if filters.sort != "window":
        ordered = ids.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        return list(session.scalars(ordered.limit(PAGE_SIZE).offset(offset)))
    # Open windows first, closing soonest on top, then the closed ones, latest first:
    # two index-ordered ranges instead of sorting every conversation on a CASE.
    cutoff = now - policy.WINDOW
    lcm = Conversation.last_customer_message_at
    still_open = ids.where(lcm > cutoff).order_by(lcm, Conversation.id)
    closed = ids.where(or_(lcm <= cutoff, lcm.is_(None))).order_by(lcm.desc(), Conversation.id)
    open_count = session.scalar(select(func.count()).select_from(still_open.subquery())) or 0
    page = list(session.scalars(still_open.limit(PAGE_SIZE).offset(offset)))
    rest_offset = max(offset - open_count, 0)
    if len(page) < PAGE_SIZE:
        page += session.scalars(closed.limit(PAGE_SIZE - len(page)).offset(rest_offset))
    return page


def listing(
    session: Session, filters: Filters, *, user_id: int, now: datetime | None = None
) -> Listing:
    """One page of conversations, and the count for each status filter in one query."""
    now = now or utcnow()
    scope = _scope(filters, user_id)
    counts = _counts(session, scope)
    where = [*scope]
    if filters.status in ("open", "pending", "closed"):
        where.append(Conversation.status == filters.status)
    ids = _page_ids(session, where, filters, now)
    last_text = (
        select(Message.text)
        .where(Message.conversation_id == Conversation.id, Message.direction != Direction.INTERNAL)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    query = (
        select(Conversation, last_text)
        .where(Conversation.id.in_(ids))
        .options(
            joinedload(Conversation.channel),
            joinedload(Conversation.contact),
            joinedload(Conversation.assignee),
        )
    )
    found = {conversation.id: (conversation, text) for conversation, text in session.execute(query)}
    rows = [
        Row(conversation, text, policy.reply_window(conversation.last_customer_message_at, now))
        for conversation, text in (found[i] for i in ids if i in found)
    ]
    total = counts.get(filters.status, counts["all"]) if filters.status in STATUSES else 0
    return Listing(rows, counts, total, filters)


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
