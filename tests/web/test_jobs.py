"""The scheduled jobs: the Jobs page and Run now, the commands, the lock, the scheduler."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask

from tests.helpers import WebClient
from tests.web.test_webhooks import deliver, rows
from webapp import jobs
from webapp.extensions import db
from webapp.models import JobLock, JobRun, utcnow

ROOT = Path(__file__).resolve().parents[2]


def test_the_jobs_page_lists_every_job_for_admins_only(
    admin_web: WebClient, agent_web: WebClient
) -> None:
    page = admin_web.get("/jobs")
    assert page.status_code == 200
    for name in ("check-tokens", "send-reminders", "retry-outbox", "retry-webhooks", "retry-mail"):
        assert f'id="job-{name}"' in page.text
    assert page.text.count("Not run yet") == 5
    assert "When <code>flask --app wsgi scheduler</code> runs" in page.text  # SCHEDULER=off
    assert agent_web.get("/jobs").status_code == 403
    assert agent_web.post("/jobs/retry-mail/run").status_code == 403
    channels = admin_web.get("/channels").text
    assert 'href="/jobs"' in channels
    assert 'href="/mail"' in channels


def test_run_now_shows_progress_then_what_it_did(app: Flask, admin_web: WebClient) -> None:
    admin_web.get("/jobs")
    started = admin_web.post("/jobs/retry-webhooks/run", htmx=True)
    assert started.status_code == 200
    assert 'id="job-retry-webhooks"' in started.text
    assert "Running…" in started.text
    assert 'hx-trigger="every 1s"' in started.text  # it polls until the job ends
    jobs.runner(app).wait("retry-webhooks")
    done = admin_web.get("/jobs/retry-webhooks", htmx=True)
    assert "Running…" not in done.text
    assert "every 1s" not in done.text
    assert "0 deliveries unpacked, 0 events processed, 0 to retry." in done.text
    assert "run by hand" in done.text
    assert admin_web.get("/jobs/retry-webhooks").status_code == 302
    assert admin_web.get("/jobs/no-such-job", htmx=True).status_code == 404
    assert admin_web.post("/jobs/no-such-job/run", htmx=True).status_code == 404


def test_run_now_needs_the_csrf_token(app: Flask, admin_web: WebClient) -> None:
    refused = admin_web.client.post("/jobs/retry-mail/run", headers={"HX-Request": "true"})
    assert refused.status_code == 400
    assert rows(app, JobRun) == []


def test_run_now_without_javascript_goes_back_to_the_page(app: Flask, admin_web: WebClient) -> None:
    admin_web.get("/jobs")
    response = admin_web.post("/jobs/retry-mail/run")
    assert response.status_code == 302
    assert response.headers["Location"] == "/jobs"
    jobs.runner(app).wait("retry-mail")
    [run] = rows(app, JobRun)
    assert (run.name, run.outcome, run.manual) == ("retry-mail", "ok", True)


def test_retry_webhooks_processes_what_is_pending(app: Flask) -> None:
    deliver(app, "messenger/not_connected_page.json")
    outcome = jobs.run_job(app, "retry-webhooks", manual=True)
    assert outcome.summary == "1 delivery unpacked, 1 event processed, 0 to retry."


def test_retry_outbox_runs(app: Flask) -> None:
    assert jobs.run_job(app, "retry-outbox", manual=True).summary == "0 replies sent or tried."


def test_a_job_that_fails_is_recorded_and_shown(
    app: Flask, admin_web: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_app: Flask) -> str:
        raise RuntimeError("the disk is full")

    job = jobs.JOBS["retry-mail"]
    monkeypatch.setitem(jobs.JOBS, "retry-mail", jobs.Job(job.name, broken, job.every, job.lease))
    outcome = jobs.run_job(app, "retry-mail", manual=True)
    assert outcome.outcome == "failed"
    assert outcome.summary == "Stopped by an error: RuntimeError: the disk is full"
    page = admin_web.get("/jobs").text
    assert "Failed" in page
    assert "the disk is full" in page


def test_a_run_is_refused_while_another_process_holds_the_job(app: Flask) -> None:
    with app.app_context():
        db.session.add(JobLock(name="check-tokens", lease_until=utcnow() + timedelta(minutes=5)))
        db.session.commit()
    outcome = jobs.run_job(app, "check-tokens", manual=True)
    assert outcome.outcome == "skipped"
    assert outcome.summary == "It is still running from an earlier start."
    with app.app_context():
        db.session.get(JobLock, "check-tokens").lease_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert jobs.run_job(app, "check-tokens", manual=True).outcome == "ok"  # a dead lease


def test_a_tick_runs_once(app: Flask, app_factory: Callable[..., Flask]) -> None:
    now = utcnow()
    assert jobs.run_job(app, "retry-mail", now=now).outcome == "ok"
    again = jobs.run_job(app_factory(), "retry-mail", now=now + timedelta(seconds=1))
    assert again.outcome == "skipped"
    assert again.summary == "This tick already ran in another process."
    later = jobs.run_job(app, "retry-mail", now=now + timedelta(minutes=1))
    assert later.outcome == "ok"


def test_old_runs_are_forgotten(app: Flask) -> None:
    long_ago = utcnow() - timedelta(days=4)
    jobs.run_job(app, "retry-mail", now=long_ago)
    jobs.run_job(app, "retry-mail")
    assert [r.started_at > long_ago for r in rows(app, JobRun)] == [True]


def test_the_embedded_scheduler_starts_with_the_first_request_only(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory(SCHEDULER="embedded")
    scheduler = jobs.runner(app)
    assert scheduler.next_run("check-tokens") is None  # nothing at start-up
    app.test_client().get("/login")
    try:
        next_run = scheduler.next_run("check-tokens")
        assert next_run is not None
        assert next_run.minute == 0  # on the shared grid: every process agrees on the tick
        app.test_client().get("/login")
        assert scheduler.next_run("check-tokens") == next_run
    finally:
        scheduler.shutdown()


def test_jobs_run_prints_what_it_did(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "send-reminders"])
    assert result.exit_code == 0, result.output
    assert (
        result.output
        == "send-reminders: ok\nNo reminder due.\nEmail: 0 written; 0 sent, 0 failed.\n"
    )
    unknown = runner.invoke(args=["jobs", "run", "no-such-job"])
    assert unknown.exit_code != 0
    listed = runner.invoke(args=["jobs", "list"]).output
    assert "retry-outbox" in listed


# ``nohup ... &`` starts a program with SIGINT ignored; Ctrl+C must stop it all the same.
AS_NOHUP_DOES = (
    "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN);"
    " sys.argv = ['flask', '--app', 'wsgi', 'scheduler'];"
    " runpy.run_module('flask', run_name='__main__')"
)


@pytest.mark.parametrize(
    ("stop", "command"),
    [
        (signal.SIGINT, ["-m", "flask", "--app", "wsgi", "scheduler"]),
        (signal.SIGINT, ["-c", AS_NOHUP_DOES]),
        (signal.SIGTERM, ["-m", "flask", "--app", "wsgi", "scheduler"]),
    ],
    ids=["ctrl-c", "ctrl-c-under-nohup", "sigterm"],
)
def test_the_scheduler_command_runs_until_stopped(
    database_url: str, stop: signal.Signals, command: list[str]
) -> None:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "x" * 32}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONFAULTHANDLER"] = "1"  # SIGABRT then prints every thread's stack
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("Pagedesk scheduler running (check-tokens every 1:00:00")
        time.sleep(0.5)
        process.send_signal(stop)
        try:
            # A job under way is finished first: allow for a slow one on a busy machine.
            output, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            output, _ = process.communicate()
            pytest.fail(f"The scheduler did not stop within 60 s; its threads:\n{output}")
        assert "Scheduler stopped." in output
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()  # closes the pipe too
