"""The record of scheduled jobs, and the database lock that runs each tick once.

Every app process may run a scheduler (gunicorn workers each start one), so a
run is claimed in the database: a ``(name, tick)`` row that only one process
can insert, then a lease on the job taken in one UPDATE, so a manual run never
overlaps a scheduled one. On PostgreSQL an advisory lock also keeps two
processes from claiming the same job at the same instant.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.orm import Session

from webapp.helpdesk.once import insert_once
from webapp.models import JobLock, JobRun

KEEP_RUNS = timedelta(days=3)


@dataclass(frozen=True)
class Claim:
    """The run this process may do now, or why it may not."""

    run_id: int | None
    refusal: str | None = None


def claim(
    session: Session, *, name: str, tick: datetime, now: datetime, lease: timedelta, manual: bool
) -> Claim:
    """Claim this job's tick (committed); a tick some process already took is refused."""
    try:
        if not _advisory_lock(session, name):
            session.rollback()
            return Claim(None, "It is being started elsewhere right now.")
        run_id = insert_once(
            session, JobRun, ["name", "tick"], name=name, tick=tick, started_at=now, manual=manual
        )
        if run_id is None:
            session.rollback()
            return Claim(None, "This tick already ran in another process.")
        if not _take_lease(session, name=name, run_id=run_id, until=now + lease, now=now):
            finish(session, run_id=run_id, outcome="skipped", summary="Still running.", now=now)
            return Claim(None, "It is still running from an earlier start.")
        session.commit()
        return Claim(run_id)
    except BaseException:
        session.rollback()
        raise


def _advisory_lock(session: Session, name: str) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: the unique insert below is taken under its single writer lock
    key = zlib.crc32(f"pagedesk-job:{name}".encode())
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}))


def _take_lease(
    session: Session, *, name: str, run_id: int | None, until: datetime, now: datetime
) -> bool:
    insert_once(session, JobLock, ["name"], name=name)
    taken = session.execute(
        update(JobLock)
        .where(JobLock.name == name, or_(JobLock.lease_until.is_(None), JobLock.lease_until < now))
        .values(run_id=run_id, lease_until=until)
    )
    return taken.rowcount == 1  # type: ignore[attr-defined]


def finish(
    session: Session, *, run_id: int | None, outcome: str, summary: str, now: datetime
) -> None:
    """Record how a run went, free the job's lease, forget runs older than a few days."""
    run = session.get(JobRun, run_id)
    if run is None:
        return
    run.outcome, run.summary, run.finished_at = outcome, summary[:20000], now
    session.execute(
        update(JobLock)
        .where(JobLock.name == run.name, JobLock.run_id == run.id)
        .values(lease_until=None)
    )
    session.execute(
        delete(JobRun).where(JobRun.name == run.name, JobRun.started_at < now - KEEP_RUNS)
    )
    session.commit()


def latest(session: Session, names: list[str]) -> dict[str, JobRun]:
    """Each job's most recent run that did something (skipped ticks are left out)."""
    found: dict[str, JobRun] = {}
    for name in names:
        run = session.scalar(
            select(JobRun)
            .where(JobRun.name == name, JobRun.outcome != "skipped")
            .order_by(JobRun.started_at.desc(), JobRun.id.desc())
            .limit(1)
        )
        if run is not None:
            found[name] = run
    return found
