"""The inbox's reading side: lists with filters and counts, the change marker, one card."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Integer,
    Label,
    MetaData,
    Select,
    Table,
    Text,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session, joinedload

from webapp.facebook import policy
from webapp.models import (
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Mode,
    Source,
    User,
    utcnow,
)

PAGE_SIZE = 50
# Counting stops here: "1,000+" open tickets needs no exact figure, and counting
# 100,000 conversations would cost more than the rest of the page.
COUNT_CAP = 1000
# A card shows this many of the latest messages and offers the rest on request.
THREAD_PAGE = 50
STATUSES = ("open", "pending", "closed", "all")
WHO = ("all", "mine", "unassigned")
SORTS = ("activity", "window")

# SQLite's search indexes (FTS5 trigram tables from migration 0006), outside the models.
_search = MetaData()
MESSAGES_SEARCH = Table("messages_search", _search, Column("rowid", Integer), Column("text", Text))
CONTACTS_SEARCH = Table("contacts_search", _search, Column("rowid", Integer), Column("name", Text))


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
    page: str  # the Facebook page's name
    assignee: str | None  # who it is assigned to


@dataclass(frozen=True)
class Listing:
    rows: list[Row]
    # Per status, counted up to COUNT_CAP + 1 (meaning "more"); None during a search,
    # whose matches are found for the page but not counted.
    counts: dict[str, int] | None
    filters: Filters
    has_more: bool  # a next page exists

    def counted(self, status: str) -> tuple[int, bool] | None:
        """How many have this status (All: the sum), and whether counting stopped short."""
        if self.counts is None:
            return None
        parts = [self.counts[s] for s in ConversationStatus if status in (s, "all")]
        return sum(min(n, COUNT_CAP) for n in parts), any(n > COUNT_CAP for n in parts)

    def count_label(self, status: str) -> str:
        """ "12", "1,000+" once counting stopped, or "" during a search."""
        counted = self.counted(status)
        if counted is None:
            return ""
        number, capped = counted
        return f"{number:,}+" if capped else f"{number:,}"

    @property
    def anything(self) -> bool:
        """Whether these filters (search aside) leave any conversation at all."""
        return self.counts is None or self.counts["all"] > 0

    @property
    def pages(self) -> int | None:
        """How many pages, when the count is known and exact."""
        counted = self.counted(self.filters.status)
        if counted is None or counted[1]:
            return None
        return max((counted[0] + PAGE_SIZE - 1) // PAGE_SIZE, 1)


def _stamp(latest: datetime | None, now: datetime | None) -> str:
    # The minute is part of it: reply-window countdowns move on even when nothing else does.
    minute = (now or utcnow()).strftime("%Y%m%d%H%M")
    return f"{latest.isoformat() if latest else 'none'}.{minute}"


# The polls' statements, built once: a poll with nothing new is these and the sign-in.
_LATEST_CHANGE = select(func.max(Conversation.updated_at))
_CHANGED_AT = select(Conversation.updated_at).where(Conversation.id == bindparam("id"))


def marker(session: Session, *, now: datetime | None = None) -> str:
    """Changes whenever any conversation or message changes (one indexed MAX), and each minute."""
    return _stamp(session.scalar(_LATEST_CHANGE), now)


def conversation_marker(
    session: Session, conversation_id: int, *, now: datetime | None = None
) -> str:
    """Changes whenever this conversation or one of its messages changes, and each minute."""
    return _stamp(session.scalar(_CHANGED_AT, {"id": conversation_id}), now)


def _matching(session: Session, q: str) -> ColumnElement[bool]:
    """Conversations whose customer's name or any message contains ``q``, by trigram index.

    PostgreSQL answers ILIKE from pg_trgm's GIN indexes. SQLite's FTS5 trigram tables
    (both made by migration 0006) match a quoted phrase as a case-insensitive substring;
    under three characters there is no trigram to look up, so LIKE reads the table.
    """
    if session.get_bind().dialect.name == "sqlite":

        def found(table: Table, column: str) -> Select[Any]:
            if len(q) < 3:
                return select(table.c.rowid).where(table.c[column].like(f"%{q}%"))
            phrase = '"' + q.replace('"', '""') + '"'
            return select(table.c.rowid).where(table.c[column].match(phrase))

        named = found(CONTACTS_SEARCH, "name")
        said = select(Message.conversation_id).where(Message.id.in_(found(MESSAGES_SEARCH, "text")))
    else:
        named = select(Contact.id).where(Contact.name.ilike(f"%{q}%"))
        said = select(Message.conversation_id).where(Message.text.ilike(f"%{q}%"))
    by_name = select(Conversation.id).where(Conversation.contact_id.in_(named))
    matching = Conversation.id.in_(union_all(by_name, said))  # IN needs no de-duplication
    if session.get_bind().dialect.name == "postgresql":
        # "IS TRUE" keeps PostgreSQL from making the IN a join, which looks up every
        # match by id and sorts them all: as a hashed filter on the list's own index
        # scan, it stops once the page is full (a third faster at 3,000 matches).
        return matching.is_(True)
    return matching


def _scope(session: Session, filters: Filters, user_id: int) -> list:
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
        where.append(_matching(session, q))
    return where


def _counts(session: Session, scope: list) -> dict[str, int]:
    """Each status's count, up to COUNT_CAP + 1 ("more than"), read from the queue index."""

    def capped(status: ConversationStatus) -> Label[int]:
        # A constant, not the id: PostgreSQL's index holds no id, and then reads only the index.
        rows = select(literal_column("1")).where(*scope, Conversation.status == status)
        rows = rows.limit(COUNT_CAP + 1)
        return select(func.count()).select_from(rows.subquery()).scalar_subquery().label(status)

    counts = dict(session.execute(select(*map(capped, ConversationStatus))).one()._mapping)
    return {**counts, "all": sum(counts.values())}


def _page_ids(session: Session, where: list, filters: Filters, now: datetime) -> list[int]:
    """The ids on this page in the list's order, and one more if there is a next page."""
    offset = (max(filters.page, 1) - 1) * PAGE_SIZE
    wanted = PAGE_SIZE + 1
    ids = select(Conversation.id).where(*where)
    if filters.sort != "window":
        ordered = ids.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        return list(session.scalars(ordered.limit(wanted).offset(offset)))
    # Open windows first, closing soonest on top; then the closed ones, latest first; then
    # comments, which have no window. Three index-ordered ranges, not a sort on a CASE.
    # A comment's time says nothing of a window, however recent: comments go last.
    cutoff = now - policy.WINDOW
    lcm = Conversation.last_customer_message_at
    chats = ids.where(Conversation.source == Source.MESSENGER)
    ranges = [
        chats.where(lcm > cutoff).order_by(lcm, Conversation.id),
        chats.where(lcm <= cutoff).order_by(lcm.desc(), Conversation.id),
        ids.where(or_(lcm.is_(None), Conversation.source != Source.MESSENGER)).order_by(
            Conversation.id.desc()
        ),
    ]
    page: list[int] = []
    skip = offset  # of this range's rows, how many earlier pages showed
    for part in ranges:
        found = list(session.scalars(part.limit(wanted - len(page)).offset(skip)))
        page += found
        if len(page) == wanted:
            break
        if found:
            skip = 0
        elif skip:  # all of this range was on earlier pages: count it (up to ``skip``)
            shown = select(func.count()).select_from(part.limit(skip).subquery())
            skip -= session.scalar(shown) or 0
    return page


def listing(
    session: Session, filters: Filters, *, user_id: int, now: datetime | None = None
) -> Listing:
    """One page of conversations, and each status's (capped) count in one query."""
    now = now or utcnow()
    scope = _scope(session, filters, user_id)
    counts = None if filters.q.strip() else _counts(session, scope)
    where = [*scope]
    if filters.status in ("open", "pending", "closed"):
        where.append(Conversation.status == filters.status)
    ids = _page_ids(session, where, filters, now)
    has_more, ids = len(ids) > PAGE_SIZE, ids[:PAGE_SIZE]
    last_text = (
        select(Message.text)
        .where(Message.conversation_id == Conversation.id, Message.direction != Direction.INTERNAL)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    query = (
        select(Conversation, last_text, Channel.name.label("page"), User.name.label("assignee"))
        .join(Channel, Channel.id == Conversation.channel_id)
        .outerjoin(User, User.id == Conversation.assignee_id)
        .where(Conversation.id.in_(ids))
        .options(joinedload(Conversation.contact))
    )
    found = {row[0].id: row for row in session.execute(query)}
    rows = [
        Row(
            conversation,
            text,
            policy.reply_window(conversation.last_customer_message_at, now),
            page,
            assignee,
        )
        for conversation, text, page, assignee in (found[i] for i in ids if i in found)
    ]
    return Listing(rows, counts, filters, has_more)


def card(session: Session, conversation_id: int) -> Conversation | None:
    """A conversation with what its card shows around the thread."""
    return session.scalar(
        select(Conversation)
        .where(Conversation.id == conversation_id)
        .options(joinedload(Conversation.channel), joinedload(Conversation.contact))
    )


@dataclass(frozen=True)
class Thread:
    messages: list[Message]  # in order, oldest first
    earlier: int  # how many come before these (not shown)


def thread(session: Session, conversation_id: int, *, whole: bool = False) -> Thread:
    """The latest THREAD_PAGE messages of a conversation, or all of them."""
    query = (
        _with_authors()
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.sent_at.desc(), Message.id.desc())
    )
    if whole:
        return Thread(list(reversed(session.scalars(query).all())), 0)
    latest = list(reversed(session.scalars(query.limit(THREAD_PAGE + 1)).all()))
    if len(latest) <= THREAD_PAGE:
        return Thread(latest, 0)
    total = session.scalar(select(func.count()).where(Message.conversation_id == conversation_id))
    return Thread(latest[1:], (total or 0) - THREAD_PAGE)


def messages(session: Session, ids: Iterable[int]) -> list[Message]:
    """These messages, in thread order (the ones a reply just added)."""
    query = _with_authors().where(Message.id.in_(list(ids))).order_by(Message.sent_at, Message.id)
    return list(session.scalars(query))


def _with_authors() -> Select[tuple[Message]]:
    """Messages with the agents who wrote them, as a thread shows them."""
    return select(Message).options(joinedload(Message.author))


def unread_by_chat(session: Session) -> dict[int, int]:
    """Unread customer messages per chat channel (the badges next to each chat)."""
    query = (
        select(Conversation.chat_channel_id, func.sum(Conversation.unread_count))
        .where(Conversation.mode == Mode.CHAT, Conversation.status != ConversationStatus.CLOSED)
        .group_by(Conversation.chat_channel_id)
    )
    return {chat_id: int(total or 0) for chat_id, total in session.execute(query)}
