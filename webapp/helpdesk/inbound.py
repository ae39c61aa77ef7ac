"""Webhook deliveries, once stored (:mod:`webapp.helpdesk.intake`): processed apart from
the request.

The worker unpacks each delivery into its events. Events are claimed in one
UPDATE (with SKIP LOCKED on PostgreSQL), so two processes never take the same one;
a lease lets another process pick up an event whose worker died. A failing event
is retried with backoff, then marked failed with its error, and never silently dropped.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from webapp.facebook.webhooks import WebhookItem, split
from webapp.helpdesk import ingest
from webapp.helpdesk.errors import NotFoundError
from webapp.helpdesk.intake import IntakeClock
from webapp.helpdesk.kit import FacebookKit
from webapp.helpdesk.threads import NotYetError
from webapp.models import EventStatus, WebhookDelivery, WebhookEvent, utcnow
from webapp.sqlite_writes import writer_lock

MAX_TRIES = 8
LEASE = timedelta(minutes=2)
# Facebook may deliver a reaction or an edit before the message it is about: such an
# event waits this long for it, tried every WAIT_STEP (and at once when a message or
# comment of its page lands), then settles as ignored: what it is about came before
# the page was connected, or was never sent to Pagedesk.
WAIT_LIMIT = timedelta(minutes=2)
WAIT_STEP = timedelta(seconds=5)
WAKES_WAITING = frozenset({"message", "echo", "postback", "comment"})
DRAIN_LIMIT = 1000  # events per pass, so that a sweep job ends
CLAIM_BATCH = 20  # events a process takes at a time
UNPACK_BATCH = 20  # deliveries
UNPACK_IN_BURST = 2  # deliveries a turn while a burst lasts (each turn holds the writer)

_EVENTS = WebhookEvent.__table__


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
            status=EventStatus.PROCESSING,
            lease_until=now + LEASE,
            lease_owner=lease_owner(),
            tries=WebhookEvent.tries + 1,
        )
        .returning(WebhookEvent.id, WebhookEvent.occurred_at)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return [event_id for event_id, _ in sorted(claimed, key=lambda row: (row[1], row[0]))]


def lease_owner() -> str:
    """This process, as its claims name it (read per call: gunicorn forks after import)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _gone(owner: str) -> bool:
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False  # another host's process, or this one: only its lease can tell
    try:
        os.kill(int(pid), 0)  # signal 0: is there such a process? Nothing is sent.
    except ProcessLookupError:
        return True
    except OSError:
        return False  # it exists (another user's): leave its claims alone
    return False


def reclaim_orphans(session: Session, *, now: datetime | None = None) -> int:
    """Claims of a process on this host that is gone (killed, crashed) are due again now.

    Without this they would wait out their lease; another host's claims still do.
    """
    now = now or utcnow()
    owners = session.scalars(
        select(WebhookEvent.lease_owner)
        .where(WebhookEvent.status == EventStatus.PROCESSING, WebhookEvent.lease_owner.is_not(None))
        .distinct()
    ).all()
    dead = [owner for owner in owners if owner and _gone(owner)]
    if not dead:
        session.commit()
        return 0
    with writer_lock(session):
        count = session.execute(
            update(WebhookEvent)
            .where(
                WebhookEvent.status == EventStatus.PROCESSING, WebhookEvent.lease_owner.in_(dead)
            )
            .values(lease_until=now)
            .execution_options(synchronize_session=False)
        ).rowcount
        session.commit()
    return count


def release(session: Session, event_ids: list[int]) -> None:
    """Give claimed events back, untried, for any process to take."""
    if event_ids:
        session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_(event_ids), WebhookEvent.status == EventStatus.PROCESSING)
            .values(
                status=EventStatus.PENDING,
                lease_until=None,
                lease_owner=None,
                tries=WebhookEvent.tries - 1,
            )
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
        event.processed_at, event.lease_until, event.lease_owner = now, None, None
        if event.kind in WAKES_WAITING and not result.ignored:
            _wake_waiting(session, event.page_id, now)
        session.commit()
        return event.status


def _wake_waiting(session: Session, page_id: str, now: datetime) -> None:
    # What a waiting event of this page is about may just have landed: try it now.
    session.execute(
        update(WebhookEvent)
        .where(
            WebhookEvent.status == EventStatus.PENDING,
            WebhookEvent.next_attempt_at > now,
            WebhookEvent.page_id == page_id,
            WebhookEvent.error.like("Waiting:%"),
        )
        .values(next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )


def _failed(session: Session, event_id: int, error: Exception, now: datetime) -> EventStatus:
    event = session.get(WebhookEvent, event_id)
    assert event is not None  # noqa: S101 (it was just processing)
    event.error = ingest.describe(error)
    event.lease_until = event.lease_owner = None
    if isinstance(error, NotYetError):
        _wait(event, now)
    elif event.tries >= MAX_TRIES:
        event.status, event.outcome = EventStatus.FAILED, "Gave up after several tries"
    else:
        event.status = EventStatus.PENDING
        event.next_attempt_at = now + backoff(event.tries)
        event.outcome = f"Will try again ({event.tries} tries so far)"
    session.commit()
    return event.status


def _wait(event: WebhookEvent, now: datetime) -> None:
    if now - event.delivery.received_at < WAIT_LIMIT:
        event.status, event.next_attempt_at = EventStatus.PENDING, now + WAIT_STEP
        event.outcome = f"Waiting for what it is about ({event.tries} tries so far)"
        return
    event.status, event.processed_at, event.error = EventStatus.IGNORED, now, None
    about = "a comment" if event.kind == "comment" else "a message"
    event.outcome = (
        f"Ignored: about {about} Pagedesk never received (sent before the page was connected?)"
    )


@dataclass
class DrainResult:
    unpacked: int = 0  # deliveries
    processed: int = 0  # events
    failed: int = 0


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
