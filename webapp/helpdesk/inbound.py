"""Webhook deliveries: stored exactly as received, then processed apart from the request.

The request costs one INSERT (shared with the deliveries that came in meanwhile);
the worker then unpacks each delivery into its events. Events are claimed in one
UPDATE (with SKIP LOCKED on PostgreSQL), so two processes never take the same one;
a lease lets another process pick up an event whose worker died. A failing event
is retried with backoff, then marked failed with its error, and never silently dropped.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Engine,
    Select,
    TextClause,
    and_,
    bindparam,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from webapp.facebook.webhooks import MalformedWebhookError, WebhookItem, envelope, split
from webapp.helpdesk import ingest
from webapp.helpdesk.errors import NotFoundError
from webapp.helpdesk.kit import FacebookKit
from webapp.models import EventStatus, WebhookDelivery, WebhookEvent, utcnow
from webapp.sqlite_writes import execute_alone, writer_lock

MAX_BODY_BYTES = 1_000_000  # Facebook batches up to 1000 updates; a megabyte is plenty
MAX_TRIES = 8
LEASE = timedelta(minutes=2)
DRAIN_LIMIT = 1000  # events per pass, so that a sweep job ends
CLAIM_BATCH = 20  # events a process takes at a time
UNPACK_BATCH = 20  # deliveries
UNPACK_IN_BURST = 2  # deliveries a turn while a burst lasts (each turn holds the writer)


@dataclass
class _Ticket:
    raw: bytes
    error: Exception | None = None  # malformed, or the database failed
    done: bool = False


# Group commit: each process has one writer at a time, and it writes every delivery
# queued by then in one INSERT: one statement, one transaction, one fsync for many
# deliveries. A request answers only after its own commit.
_WRITE = threading.Lock()
_QUEUE_LOCK = threading.Lock()
_queue: list[_Ticket] = []
MAX_BATCH = 32  # deliveries per INSERT (a process rarely has more threads)


def store_delivery(session: Session, raw: bytes, *, now: datetime | None = None) -> None:
    """Keep a signed body, committed before this returns; its events are unpacked later.

    A malformed body is recorded and :class:`MalformedWebhookError` raised; a
    database failure raises for every delivery of the batch, and none is kept.
    """
    ticket = _Ticket(raw)
    try:
        envelope(raw)  # before the queue: the writer's turn is for writing
    except MalformedWebhookError as error:
        ticket.error = error
    IntakeClock.tick()
    with _QUEUE_LOCK:
        _queue.append(ticket)
    with _WRITE:
        while not ticket.done:
            with _QUEUE_LOCK:
                batch = _queue[:MAX_BATCH]
                del _queue[:MAX_BATCH]
            _write(session.get_bind(), batch, now or utcnow())
    if ticket.error is not None:
        raise ticket.error


_DELIVERIES = WebhookDelivery.__table__
_EVENTS = WebhookEvent.__table__
_COLUMNS = ("body", "received_at", "error", "event_count", "unpacked_at")


@functools.cache
def _insert_deliveries(count: int) -> TextClause:
    """One INSERT of ``count`` deliveries, built once per count.

    (SQLAlchemy compiles a many-row ``insert().values()`` again on every call.)
    """
    rows = ", ".join("(" + ", ".join(f":{c}_{n}" for c in _COLUMNS) + ")" for n in range(count))
    sql = f"INSERT INTO {_DELIVERIES.name} ({', '.join(_COLUMNS)}) VALUES {rows}"  # noqa: S608 (no input)
    types = {c: _DELIVERIES.c[c].type for c in _COLUMNS}
    return text(sql).bindparams(
        *(bindparam(f"{c}_{n}", type_=types[c]) for n in range(count) for c in _COLUMNS)
    )


def _write(engine: Engine, batch: list[_Ticket], now: datetime) -> None:
    params = {}
    for n, ticket in enumerate(batch):
        error = str(ticket.error)[:500] if ticket.error else None
        row = {
            "body": ticket.raw,
            "received_at": now,
            "error": error,
            "event_count": 0,
            "unpacked_at": now if error else None,  # a refused body has no events to unpack
        }
        params.update({f"{column}_{n}": value for column, value in row.items()})
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            execute_alone(connection, _insert_deliveries(len(batch)), params)
    except Exception as error:  # noqa: BLE001 (raised in each request of the batch)
        for ticket in batch:
            ticket.error = error
    finally:
        for ticket in batch:
            ticket.done = True


# --- Unpacking: a delivery's events, read out of its body by the worker ---------------

_WAITING = (
    select(WebhookDelivery.id, WebhookDelivery.body)
    .where(WebhookDelivery.unpacked_at.is_(None))
    .order_by(WebhookDelivery.id)
)


def unpack(session: Session, *, limit: int = UNPACK_BATCH, now: datetime | None = None) -> int:
    """Store the events of up to ``limit`` deliveries (pending), oldest first; how many.

    A body whose events cannot be read keeps the reason, for the Webhook log. Locked
    rows on PostgreSQL, and a re-check under the writer lock on SQLite, keep two
    processes from unpacking the same delivery.
    """
    now = now or utcnow()
    waiting = session.execute(_WAITING.limit(limit).with_for_update(skip_locked=True)).all()
    if not waiting:
        session.commit()
        return 0
    read = [(delivery_id, *_read(body)) for delivery_id, body in waiting]  # before the lock
    with writer_lock(session):
        events = []
        for delivery_id, items, error in read:
            taken = session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == delivery_id, WebhookDelivery.unpacked_at.is_(None))
                .values(unpacked_at=now, event_count=len(items), error=error)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken:
                events += [_event_row(delivery_id, n, item, now) for n, item in enumerate(items)]
        if events:
            session.execute(_EVENTS.insert(), events)
        session.commit()
    return len(read)


def _read(body: bytes) -> tuple[list[WebhookItem], str | None]:
    try:
        return split(body), None
    except Exception as error:  # noqa: BLE001 (acknowledged already: keep why, lose nothing)
        return [], f"Its events could not be read: {error}"[:500]


def _event_row(delivery_id: int, position: int, item: WebhookItem, now: datetime) -> dict:
    return {
        "delivery_id": delivery_id,
        "position": position,
        "page_id": item.page_id,
        "kind": item.kind,
        "occurred_at": item.occurred_at,
        "payload": item.payload,
        "status": EventStatus.PENDING,
        "outcome": None,
        "error": None,
        "tries": 0,
        "next_attempt_at": now,
        "lease_until": None,
        "processed_at": None,
    }  # fmt: skip


def claim(session: Session, *, limit: int = CLAIM_BATCH, now: datetime | None = None) -> list[int]:
    """Take up to ``limit`` ready events for this process, oldest first."""
    now = now or utcnow()
    ready = or_(
        and_(WebhookEvent.status == EventStatus.PENDING, WebhookEvent.next_attempt_at <= now),
        and_(WebhookEvent.status == EventStatus.PROCESSING, WebhookEvent.lease_until < now),
    )
    # Two steps, not UPDATE ... WHERE id IN (SELECT ... LIMIT): PostgreSQL may run such a
    # subquery more than once and claim more than ``limit``. The locked SELECT keeps other
    # PostgreSQL workers off these rows; the ``ready`` re-check does it on SQLite, whose
    # writers take turns.
    candidates = (
        select(WebhookEvent.id)
        .where(ready)
        .order_by(WebhookEvent.occurred_at, WebhookEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    with writer_lock(session):
        return _claim(session, candidates, ready, now)


def _claim(
    session: Session, candidates: Select, ready: ColumnElement[bool], now: datetime
) -> list[int]:
    ids = list(session.scalars(candidates))
    if not ids:
        session.commit()
        return []
    claimed = session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.id.in_(ids), ready)
        .values(
            status=EventStatus.PROCESSING, lease_until=now + LEASE, tries=WebhookEvent.tries + 1
        )
        .returning(WebhookEvent.id, WebhookEvent.occurred_at)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return [event_id for event_id, _ in sorted(claimed, key=lambda row: (row[1], row[0]))]


def release(session: Session, event_ids: list[int]) -> None:
    """Give claimed events back, untried, for any process to take."""
    if event_ids:
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(event_ids), WebhookEvent.status == EventStatus.PROCESSING)
            .values(status=EventStatus.PENDING, lease_until=None, tries=WebhookEvent.tries - 1)
            .execution_options(synchronize_session=False)
        )
    session.commit()


def backoff(tries: int) -> timedelta:
    """5 s, 10 s, 20 s ... up to an hour between tries."""
    return timedelta(seconds=min(5 * 2 ** max(tries - 1, 0), 3600))


def process(
    session: Session, event_id: int, *, kit: FacebookKit | None, now: datetime | None = None
) -> EventStatus:
    """Apply one claimed event in its own transaction; on failure keep it for a retry."""
    now = now or utcnow()
    event = session.get(WebhookEvent, event_id)
    if event is None or event.status != EventStatus.PROCESSING:
        return EventStatus.DONE
    try:
        profiles = ingest.prefetch_profiles(session, event, kit=kit)
    except Exception:  # noqa: BLE001 (a profile is a nicety; the event goes on without it)
        profiles = {}
    session.commit()  # nothing is held while Facebook was asked
    with writer_lock(session):
        event = session.get(WebhookEvent, event_id)
        assert event is not None  # noqa: S101 (claimed by this process)
        try:
            result = ingest.apply(session, event, kit=kit, now=now, profiles=profiles)
        except Exception as error:  # noqa: BLE001 (any failure is kept with the event, never lost)
            session.rollback()
            return _failed(session, event_id, error, now)
        event.status = EventStatus.IGNORED if result.ignored else EventStatus.DONE
        event.outcome, event.error = result.outcome[:500], None
        event.processed_at, event.lease_until = now, None
        session.commit()
        return event.status


def _failed(session: Session, event_id: int, error: Exception, now: datetime) -> EventStatus:
    event = session.get(WebhookEvent, event_id)
    assert event is not None  # noqa: S101 (it was just processing)
    event.error = ingest.describe(error)
    event.lease_until = None
    if event.tries >= MAX_TRIES:
        event.status, event.outcome = EventStatus.FAILED, "Gave up after several tries"
    else:
        event.status = EventStatus.PENDING
        event.next_attempt_at = now + backoff(event.tries)
        event.outcome = f"Will try again ({event.tries} tries so far)"
    session.commit()
    return event.status


@dataclass
class DrainResult:
    unpacked: int = 0  # deliveries
    processed: int = 0  # events
    failed: int = 0


class IntakeClock:
    """How fast this process is storing deliveries: the worker lets a burst go first.

    Answering Facebook fast is what keeps it delivering (it retries, then unsubscribes
    the app after an hour of failures); processing may lag while a burst lasts. During
    one (100 deliveries a second or more), the worker waits for it to end: on SQLite a
    write of the worker's, with its thread competing for the GIL, holds up the
    deliveries of every process while it runs. If the burst goes on, the worker still
    takes a turn every ``LONGEST`` seconds. A trickle, or the end of the burst: full speed.

    The rate is taken over half a second, so that the worker's own stall of intake does not
    look like the end of a burst; and the worker lets ``SETTLE`` pass after it is woken,
    so that a burst shows itself before the first turn.
    """

    BURST = 50  # deliveries within WINDOW seconds
    WINDOW = 0.5
    SETTLE = 0.3  # seconds from the wake to the first turn
    REST = 0.5  # seconds between looks while a burst lasts
    LONGEST = 10.0  # seconds of waiting, then one turn anyway

    _recent: deque[float] = deque(maxlen=BURST)  # when the latest deliveries came

    @classmethod
    def tick(cls) -> None:
        cls._recent.append(time.monotonic())

    @classmethod
    def busy(cls) -> bool:
        recent = cls._recent
        return len(recent) == cls.BURST and time.monotonic() - recent[0] < cls.WINDOW

    @classmethod
    def give_way(cls) -> None:
        """After a turn: wait while a burst lasts (``LONGEST`` at most)."""
        for _ in range(round(cls.LONGEST / cls.REST)):
            if not cls.busy():
                return
            time.sleep(cls.REST)


def drain(
    session: Session,
    *,
    kit_factory: Callable[[], FacebookKit | None],
    now: Callable[[], datetime] = utcnow,
    limit: int | None = None,
    after_intake: bool = False,
) -> DrainResult:
    """Unpack stored deliveries and process every ready event (up to ``limit``, else
    :data:`DRAIN_LIMIT`); what the worker and the sweep both run.

    ``after_intake``: the in-process worker gives way to deliveries (:class:`IntakeClock`).
    """
    limit = DRAIN_LIMIT if limit is None else limit
    result = DrainResult()
    kit = None
    if after_intake:
        time.sleep(IntakeClock.SETTLE)
    try:
        while result.processed < limit:
            burst = after_intake and IntakeClock.busy()  # then one event a turn
            unpacked = unpack(session, limit=UNPACK_IN_BURST if burst else UNPACK_BATCH, now=now())
            result.unpacked += unpacked
            room = 1 if burst else min(CLAIM_BATCH, limit - result.processed)
            ids = claim(session, limit=room, now=now())
            if not ids and not unpacked:
                break
            if ids and kit is None:
                kit = kit_factory()
            for n, event_id in enumerate(ids):
                status = process(session, event_id, kit=kit, now=now())
                result.processed += 1
                result.failed += status in (EventStatus.PENDING, EventStatus.FAILED)
                if after_intake and IntakeClock.busy():
                    release(session, ids[n + 1 :])  # a burst began: no lease runs out waiting
                    break
            if after_intake:
                IntakeClock.give_way()
    finally:
        if kit is not None:
            kit.close()
    return result


def rerun(session: Session, *, event_id: int, now: datetime | None = None) -> WebhookEvent:
    """Put an event back in the queue (from the Webhook log)."""
    event = session.get(WebhookEvent, event_id)
    if event is None:
        raise NotFoundError("That webhook event is no longer kept.")
    event.status, event.next_attempt_at, event.tries = EventStatus.PENDING, now or utcnow(), 0
    event.outcome, event.error = "Queued again by an admin", None
    session.commit()
    return event
