"""The scheduled jobs (APScheduler 3.x): each a plain function of the app calling a service.

With ``SCHEDULER=embedded`` every app process starts a scheduler on its first
request (never at import, never before gunicorn forks); ``flask --app wsgi
scheduler`` runs one in the foreground instead. However many run, each tick of a
job is claimed in the database (:mod:`webapp.helpdesk.job_runs`), so it runs once.
Ticks sit on one grid from a fixed epoch, so every process agrees what a tick is.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_SCHEDULER_START
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask

from webapp.extensions import db
from webapp.helpdesk import access, inbound, job_runs, mail, notices, outbox
from webapp.helpdesk.kit import FacebookKit
from webapp.integrations import facebook_kit
from webapp.mailer import mailer_for
from webapp.models import utcnow

log = logging.getLogger(__name__)
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@contextmanager
def _kit(app: Flask) -> Iterator[FacebookKit]:
    kit = facebook_kit(app)
    try:
        yield kit
    finally:
        kit.close()


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def check_tokens(app: Flask) -> str:
    """Every connected page: its keys, its person's full admin access, publication, webhooks."""
    with _kit(app) as kit:
        lines = access.check_all(db.session, kit=kit, now=utcnow())
    return "\n".join([*lines, _send_mail(app)])


def send_reminders(app: Flask) -> str:
    """Email the admins about every page whose key lapses within a reminder threshold."""
    thresholds = tuple(app.config["TOKEN_REMINDER_DAYS"])
    lines = notices.queue_reminders(db.session, thresholds=thresholds, now=utcnow())
    return "\n".join([*lines, _send_mail(app)])


def retry_outbox(app: Flask) -> str:
    """Send every reply that is due: new ones, retries, and replies released by a reconnect."""
    with _kit(app) as kit:
        count = outbox.deliver_due(db.session, kit=kit, now=utcnow())
    return f"{_plural(count, 'reply', 'replies')} sent or tried."


def retry_webhooks(app: Flask) -> str:
    """Unpack stored deliveries, process events left pending or failed (the worker's sweep)."""
    result = inbound.drain(db.session, kit_factory=lambda: facebook_kit(app))
    unpacked = _plural(result.unpacked, "delivery", "deliveries")
    processed = _plural(result.processed, "event", "events")
    return f"{unpacked} unpacked, {processed} processed, {result.failed} to retry."


def retry_mail(app: Flask) -> str:
    """Write the emails owed to admins and send every email that is due, failed ones again."""
    return _send_mail(app)


def _send_mail(app: Flask) -> str:
    written = notices.compose_pending(db.session, base_url=app.config["BASE_URL"], now=utcnow())
    result = mail.deliver_due(db.session, mailer=mailer_for(app), now=utcnow())
    return f"Email: {written} written; {result}."


@dataclass(frozen=True)
class Job:
    """A job's name, what it does, how often it runs and how long one run may hold it."""

    name: str
    run: Callable[[Flask], str]
    every: timedelta
    lease: timedelta

    @property
    def description(self) -> str:
        return (self.run.__doc__ or "").strip()

    def next_run(self, now: datetime) -> datetime:
        return tick_of(now, self.every) + self.every


def tick_of(now: datetime, every: timedelta) -> datetime:
    """The tick ``now`` falls in, on the grid every process shares."""
    return EPOCH + (now - EPOCH) // every * every


JOBS = {
    job.name: job
    for job in (
        Job("check-tokens", check_tokens, timedelta(hours=1), timedelta(minutes=30)),
        Job("send-reminders", send_reminders, timedelta(hours=1), timedelta(minutes=10)),
        Job("retry-outbox", retry_outbox, timedelta(seconds=15), timedelta(minutes=10)),
        Job("retry-webhooks", retry_webhooks, timedelta(minutes=1), timedelta(minutes=10)),
        Job("retry-mail", retry_mail, timedelta(minutes=1), timedelta(minutes=10)),
    )
}


@dataclass(frozen=True)
class Outcome:
    """What one attempt to run a job did: ``ok``, ``failed`` or ``skipped`` (and why)."""

    outcome: str
    summary: str

    @property
    def ran(self) -> bool:
        return self.outcome != "skipped"


def run_job(
    app: Flask,
    name: str,
    *,
    manual: bool = False,
    now: datetime | None = None,
    every: timedelta | None = None,
) -> Outcome:
    """Run one job once, if this process wins its tick (a manual run is a tick of its own)."""
    job = JOBS[name]
    now = now or utcnow()
    tick = now if manual else tick_of(now, every or job.every)
    with app.app_context():
        try:
            claim = job_runs.claim(
                db.session, name=name, tick=tick, now=now,
                lease=job.lease, manual=manual,
            )  # fmt: skip
            if claim.run_id is None:
                return Outcome("skipped", claim.refusal or "Not run.")
            outcome = _execute(app, job)
            job_runs.finish(
                db.session, run_id=claim.run_id, outcome=outcome.outcome,
                summary=outcome.summary, now=utcnow(),
            )  # fmt: skip
            return outcome
        finally:
            db.session.remove()  # never leave a connection idle in a transaction


def _execute(app: Flask, job: Job) -> Outcome:
    try:
        return Outcome("ok", job.run(app))
    except Exception as error:  # recorded on the jobs page; the next tick tries again
        db.session.rollback()
        log.exception("Job %s failed", job.name)
        return Outcome("failed", f"Stopped by an error: {type(error).__name__}: {error}")


class Scheduler:
    """APScheduler for this process, started at most once (and again after a fork)."""

    def __init__(self, app: Flask, *, intervals: dict[str, timedelta] | None = None) -> None:
        self.app = app
        self.intervals = intervals or {}
        self._lock = threading.Lock()
        self._scheduler: BaseScheduler | None = None
        self._pid: int | None = None
        self._manual: dict[str, threading.Thread] = {}
        self.refusals: dict[str, str] = {}

    def _build(self, scheduler: BaseScheduler) -> BaseScheduler:
        for name, job in JOBS.items():
            every = self.intervals.get(name, job.every)
            trigger = IntervalTrigger(seconds=every.total_seconds(), start_date=EPOCH, timezone=UTC)
            scheduler.add_job(
                run_job, trigger, args=[self.app, name], kwargs={"every": every}, id=name, name=name
            )
        return scheduler

    def _defaults(self) -> dict[str, object]:
        job_defaults = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
        return {"timezone": UTC, "job_defaults": job_defaults}

    def ensure_started(self) -> None:
        """Start the background scheduler if this process has none yet (cheap otherwise)."""
        if self._scheduler is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._scheduler is None or self._pid != os.getpid():
                self._scheduler = self._build(BackgroundScheduler(**self._defaults()))
                self._scheduler.start()
                self._pid = os.getpid()

    def run_forever(self, *, started: Callable[[], None] = lambda: None) -> None:
        """``flask --app wsgi scheduler``: run the jobs in the foreground until stopped.

        Ctrl+C or SIGTERM (systemd, ``docker stop``) stops it once the running jobs end,
        even when it was started with SIGINT ignored (``nohup ... &``). ``started`` is
        called once it runs, and a signal from then on stops it.
        """
        scheduler = self._scheduler = self._build(BlockingScheduler(**self._defaults()))
        self._pid = os.getpid()

        def stop(*_: object) -> None:
            if not scheduler.running:
                raise SystemExit(0)  # still starting: nothing to wait for
            scheduler.shutdown(wait=False)  # the loop ends; running jobs finish first

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        scheduler.add_listener(lambda _event: started(), EVENT_SCHEDULER_START)
        scheduler.start()  # returns once stopped

    def shutdown(self) -> None:
        """Stop the scheduler (tests; shutdown), waiting for running jobs."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self._scheduler = None

    def next_run(self, name: str) -> datetime | None:
        """When this process's scheduler runs the job next (None when it runs none)."""
        scheduled = self._scheduler.get_job(name) if self._scheduler is not None else None
        return scheduled.next_run_time if scheduled is not None else None

    def start_now(self, name: str) -> None:
        """Run a job now in a thread of its own (the jobs page's Run now)."""
        self.refusals.pop(name, None)

        def work() -> None:
            outcome = run_job(self.app, name, manual=True)
            if not outcome.ran:
                self.refusals[name] = outcome.summary

        with self._lock:
            if not self.running_here(name):
                thread = threading.Thread(target=work, name=f"pagedesk-job-{name}", daemon=True)
                self._manual[name] = thread
                thread.start()

    def running_here(self, name: str) -> bool:
        """Whether this process is running the job for the jobs page right now."""
        thread = self._manual.get(name)
        return thread is not None and thread.is_alive()

    def wait(self, name: str, timeout: float = 30) -> None:
        """Wait for a manual run to end (tests)."""
        if thread := self._manual.get(name):
            thread.join(timeout)


def runner(app: Flask) -> Scheduler:
    """This app's scheduler object (created, not started, when the app has none)."""
    if "pagedesk_scheduler" not in app.extensions:
        # The app itself, not ``current_app``: its threads outlive the request.
        real = getattr(app, "_get_current_object", lambda: app)()
        app.extensions["pagedesk_scheduler"] = Scheduler(real)
    return app.extensions["pagedesk_scheduler"]


def embed(app: Flask) -> None:
    """``SCHEDULER=embedded``: the first request of each process starts its scheduler."""
    app.before_request(runner(app).ensure_started)
