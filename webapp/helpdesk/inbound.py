"""Webhook deliveries: stored exactly as received, then processed apart from the request.

Events are claimed in one UPDATE (with SKIP LOCKED on PostgreSQL), so two
processes never take the same one; a lease lets another process pick up an
event whose worker died. A failing event is retried with backoff, then
marked failed with its error, and never silently dropped.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, Select, and_, or_, select, update
from sqlalchemy.orm import Session

from webapp.facebook.webhooks import MalformedWebhookError, split
from webapp.helpdesk import ingest
from webapp.helpdesk.errors import NotFoundError
from webapp.helpdesk.kit import FacebookKit
from webapp.models import EventStatus, WebhookDelivery, WebhookEvent, utcnow
from webapp.sqlite_writes import writer_lock

MAX_BODY_BYTES = 1_000_000  # Facebook batches up to 1000 updates; a megabyte is plenty
MAX_TRIES = 8
LEASE = timedelta(minutes=2)


@dataclass
class _Ticket:
    raw: bytes
    done: bool = False
    delivery_id: int | None = None
    error: Exception | None = None


# Group commit: each process has one writer at a time, and it writes every delivery
# queued by then in one transaction: one fsync for many deliveries, and no thread
# sleeping in SQLite's busy handler. A request answers only after its own commit.
_WRITE = threading.Lock()
_QUEUE_LOCK = threading.Lock()
_queue: list[_Ticket] = []


def store_delivery(session: Session, raw: bytes, *, now: datetime | None = None) -> int:
    """Keep a signed body and its events (pending), committed before this returns.

    A malformed body is recorded and :class:`MalformedWebhookError` raised; a
    database failure raises for every delivery of the batch, and none is kept.
    """
    ticket = _Ticket(raw)
    IntakeClock.tick()
    with _QUEUE_LOCK:
        _queue.append(ticket)
    with _WRITE:
        if not ticket.done:
            with _QUEUE_LOCK:
                batch = _queue[:]
                _queue.clear()
            _write(session, batch, now or utcnow())
    if ticket.error is not None:
        raise ticket.error
    assert ticket.delivery_id is not None  # noqa: S101 (set by the writer)
    return ticket.delivery_id


# Core statements compiled once: at webhook rates the ORM's per-call work is the cost.
_DELIVERIES = WebhookDelivery.__table__
_EVENTS = WebhookEvent.__table__
_NEW_DELIVERY = _DELIVERIES.insert().returning(_DELIVERIES.c.id)


def _write(session: Session, batch: list[_Ticket], now: datetime) -> None:
    try:
        with writer_lock(session):
            connection = session.connection()
            events = [row for ticket in batch for row in _add(connection, ticket, now)]
            if events:
                connection.execute(_EVENTS.insert(), events)
            session.commit()
    except Exception as error:
        session.rollback()
        for ticket in batch:
            ticket.error = error
        raise
    finally:
        for ticket in batch:
            ticket.done = True


def _add(connection: Connection, ticket: _Ticket, now: datetime) -> list[dict]:
    """Insert the delivery; its events' rows, for one insert with the whole batch's."""
    try:
        items = split(ticket.raw)
    except MalformedWebhookError as error:
        values = {"body": ticket.raw, "received_at": now, "error": str(error)[:500]}
        connection.execute(_DELIVERIES.insert(), values)
        ticket.error = error
        return []
    values = {"body": ticket.raw, "received_at": now, "error": None, "event_count": len(items)}
    ticket.delivery_id = connection.execute(_NEW_DELIVERY, values).scalar_one()
    return [
        {
            "delivery_id": ticket.delivery_id,
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
        for position, item in enumerate(items)
    ]


def claim(session: Session, *, limit: int = 20, now: datetime | None = None) -> list[int]:
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
    processed: int = 0
    failed: int = 0


class IntakeClock:
    """How fast this process is storing deliveries: the worker lets a burst go first.

    Answering Facebook fast is what keeps it delivering (it retries, then unsubscribes
    the app after an hour of failures); processing may lag while a burst lasts. During
    one (100 deliveries a second or more), the worker processes an event a second and
    leaves every other turn to intake: on SQLite each write takes its turn, so an event
    processed is a turn intake waits for. No request waits behind a whole batch, and
    the backlog still moves. A trickle, or the end of the burst: full speed.
    """

    BURST = 10  # deliveries within WINDOW seconds
    WINDOW = 0.1
    REST = 1.0  # seconds after each event while a burst lasts

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
        """After an event: rest, if a burst is on."""
        if cls.busy():
            time.sleep(cls.REST)


def drain(
    session: Session,
    *,
    kit_factory: Callable[[], FacebookKit | None],
    now: Callable[[], datetime] = utcnow,
    limit: int = 1000,
    after_intake: bool = False,
) -> DrainResult:
    """Process every ready event (up to ``limit``); what the worker and the sweep both run.

    ``after_intake``: the in-process worker gives way to deliveries (:class:`IntakeClock`).
    """
    result = DrainResult()
    kit = None
    try:
        while result.processed < limit:
            ids = claim(session, now=now())
            if not ids:
                break
            kit = kit or kit_factory()
            for event_id in ids:
                status = process(session, event_id, kit=kit, now=now())
                result.processed += 1
                result.failed += status in (EventStatus.PENDING, EventStatus.FAILED)
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
