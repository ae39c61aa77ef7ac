"""``/jobs`` (each scheduled job, run one now) and ``/mail`` (every email sent or tried)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from webapp import jobs
from webapp.extensions import db
from webapp.helpdesk import job_runs, mail
from webapp.models import JobRun, MailStatus, utcnow
from webapp.web import render, render_change, require_admin

bp = Blueprint("jobs", __name__)
bp.before_request(require_admin)


@dataclass(frozen=True)
class JobRow:
    """A job on the jobs page: what it does, how its last run went, when it runs next."""

    job: jobs.Job
    last: JobRun | None
    running: bool
    next_run: datetime | None
    refusal: str | None

    @property
    def name(self) -> str:
        return self.job.name


def job_row(name: str, now: datetime, *, starting: bool = False) -> JobRow:
    job, scheduler = jobs.JOBS[name], jobs.runner(current_app)
    last = job_runs.latest(db.session, [name]).get(name)
    running = starting or scheduler.running_here(name)
    if last is not None and last.finished_at is None:
        running = running or now - last.started_at < job.lease  # else it was interrupted
    next_run = scheduler.next_run(name)
    if next_run is None and current_app.config["SCHEDULER"] == "embedded":
        next_run = job.next_run(now)
    refusal = None if running else scheduler.refusals.get(name)
    return JobRow(job, last, running, next_run, refusal)


@bp.get("/jobs")
def index() -> Response:
    """Every scheduled job: its last run, outcome, what it did, its next run."""
    now = utcnow()
    rows = [job_row(name, now) for name in jobs.JOBS]
    return render("jobs/index.html", rows=rows, now=now, scheduler=current_app.config["SCHEDULER"])


@bp.get("/jobs/<name>")
def show(name: str) -> Response:
    """One job's row: what HTMX polls while the job runs."""
    if name not in jobs.JOBS:
        abort(404)
    if not request.htmx:
        return redirect(url_for("jobs.index"))
    return render("jobs/index.html", "job_row", row=job_row(name, utcnow()), now=utcnow())


@bp.post("/jobs/<name>/run")
def run(name: str) -> Response:
    """Run a job now, in the background; its row says how it goes."""
    if name not in jobs.JOBS:
        abort(404)
    jobs.runner(current_app).start_now(name)
    if not request.htmx:
        flash(f"{name} started: reload this page to see what it did.", "success")
    return render_change(
        "jobs/index.html",
        "job_row",
        redirect_to=url_for("jobs.index"),
        row=job_row(name, utcnow(), starting=True),
        now=utcnow(),
    )


@bp.get("/mail")
def mail_log() -> Response:
    """Every email Pagedesk sent or tried, newest first, with its status and error."""
    status = request.args.get("status") or None
    if status is not None and status not in {s.value for s in MailStatus}:
        status = None
    return render(
        "jobs/mail.html",
        mails=mail.recent(db.session, status=status),
        shown=status,
        statuses=[s.value for s in MailStatus],
        mail_server=current_app.config["MAIL_SERVER"],
    )
