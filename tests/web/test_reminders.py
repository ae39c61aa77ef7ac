"""Reminders before a page's key lapses: each threshold once, over real SMTP,
across restarts and with several schedulers at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from tests.facebook import MIA
from tests.helpers import Credentials, WebClient, make_user
from tests.mailbox import Mailbox, mailbox_fixture, use_mailbox  # noqa: F401
from tests.web.test_webhooks import rows
from webapp import jobs
from webapp.extensions import db
from webapp.models import Channel, JobRun, Notice, Role, User, utcnow

DAY = 86400


def lapse_in(app: Flask, days: float) -> None:
    """Facebook moves the connecting person's data access; check-tokens reads the new date."""
    sandbox = app.extensions["facebook_sandbox"]
    sandbox.set_data_access_expires_at(MIA, sandbox.now() + days * DAY)
    assert jobs.run_job(app, "check-tokens", manual=True).outcome == "ok"


def remind(app: Flask) -> str:
    outcome = jobs.run_job(app, "send-reminders", manual=True)
    assert outcome.outcome == "ok", outcome.summary
    return outcome.summary


def kinds(app: Flask) -> list[str]:
    return sorted(n.kind for n in rows(app, Notice))


def other_admins(app: Flask) -> None:
    make_user(app, "grace@example.com", Role.ADMIN, name="Grace")
    make_user(app, "alan@example.com", Role.AGENT, name="Alan")
    make_user(app, "old@example.com", Role.ADMIN, name="Old Admin")
    with app.app_context():
        db.session.scalar(select(User).where(User.email == "old@example.com")).active = False
        db.session.commit()


def test_each_threshold_is_emailed_once_to_every_active_admin(
    app: Flask, connected: Channel, admin_web: WebClient, mailbox: Mailbox
) -> None:
    other_admins(app)
    use_mailbox(app, mailbox)
    assert remind(app).startswith("No reminder due.")  # 89 days left

    for days, threshold in ((13.5, 14), (6.5, 7), (0.5, 1)):
        lapse_in(app, days)
        summary = remind(app)
        assert "Acme Support: reminder queued" in summary
        assert f"(within {threshold} day" in summary
        assert remind(app).startswith("No reminder due.")  # not twice
    assert kinds(app) == ["expiry:1", "expiry:14", "expiry:7"]
    assert len(mailbox.messages) == 6  # 3 thresholds x 2 active admins
    assert sorted(set(mailbox.to())) == ["ada@example.com", "grace@example.com"]

    [channel] = rows(app, Channel)
    lapses = channel.key_expires_at
    first = mailbox.messages[-1]
    assert mailbox.subjects()[-1] == (
        f"Action needed: reconnect the Facebook page “Acme Support” before {lapses:%-d %B}"
    )
    text, html = mailbox.bodies(first)
    assert f"{lapses:%-d %B %Y at %H:%M UTC}" in text
    assert "Who must reconnect: Mia Manager" in text
    assert f"{app.config['BASE_URL']}/channels/facebook/connect" in text
    assert "<strong>Mia Manager</strong>" in html

    listing = admin_web.get("/channels").text
    assert "Expiring soon" in listing
    assert f"Its access key lapses on {lapses:%-d %B %Y}" in listing


def test_a_page_found_late_gets_only_the_tightest_reminder(
    app: Flask, connected: Channel, mailbox: Mailbox
) -> None:
    use_mailbox(app, mailbox)
    lapse_in(app, 5)
    assert "(within 7 days)" in remind(app)
    assert kinds(app) == ["expiry:14", "expiry:7"]
    assert len(mailbox.messages) == 1
    lapse_in(app, 0.5)
    remind(app)
    assert len(mailbox.messages) == 2


def test_a_restart_does_not_resend(
    app: Flask, app_factory: Callable[..., Flask], connected: Channel, mailbox: Mailbox
) -> None:
    use_mailbox(app, mailbox)
    lapse_in(app, 10)
    remind(app)
    restarted = app_factory()
    use_mailbox(restarted, mailbox)
    assert remind(restarted).startswith("No reminder due.")
    assert jobs.run_job(restarted, "retry-mail", manual=True).outcome == "ok"
    assert len(mailbox.messages) == 1


def test_two_schedulers_on_the_same_tick_send_once(
    app: Flask, app_factory: Callable[..., Flask], connected: Channel, mailbox: Mailbox
) -> None:
    use_mailbox(app, mailbox)
    lapse_in(app, 10)
    second = app_factory()
    use_mailbox(second, mailbox)
    now = utcnow()
    outcomes: list[jobs.Outcome] = []
    start = threading.Barrier(2)

    def tick(instance: Flask) -> None:
        start.wait()
        outcomes.append(jobs.run_job(instance, "send-reminders", now=now))

    threads = [threading.Thread(target=tick, args=(a,)) for a in (app, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(o.outcome for o in outcomes) == ["ok", "skipped"]
    assert len(mailbox.messages) == 1
    runs = rows(app, JobRun, JobRun.name == "send-reminders", JobRun.manual.is_(False))
    assert len(runs) == 1


def test_embedded_schedulers_in_two_processes_run_each_tick_once(
    app: Flask,
    app_factory: Callable[..., Flask],
    connected: Channel,
    admin: Credentials,
    mailbox: Mailbox,
) -> None:
    use_mailbox(app, mailbox)
    lapse_in(app, 3)
    second = app_factory()
    use_mailbox(second, mailbox)
    every = {"send-reminders": timedelta(seconds=1)}
    schedulers = [jobs.Scheduler(a, intervals=every) for a in (app, second)]
    for scheduler in schedulers:
        scheduler.ensure_started()
        scheduler.ensure_started()  # the next request starts nothing more
    time.sleep(3.5)
    for scheduler in schedulers:
        scheduler.shutdown()
    ticks = [r.tick for r in rows(app, JobRun, JobRun.name == "send-reminders")]
    assert len(ticks) >= 2
    assert len(ticks) == len(set(ticks))  # each tick ran in one process only
    assert len(mailbox.messages) == 1
