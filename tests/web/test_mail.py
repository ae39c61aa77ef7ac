"""Email: written to the mail log, sent over real SMTP, retried when the server fails."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from tests.helpers import WebClient
from tests.mailbox import Mailbox, free_port, mailbox_fixture, use_mailbox  # noqa: F401
from tests.web.test_webhooks import rows
from webapp import jobs
from webapp.extensions import db
from webapp.helpdesk import mail
from webapp.mailer import mailer_for
from webapp.models import MailLog, MailStatus, utcnow


def queue(app: Flask, subject: str = "Hello", html: str = "<p>Hi</p>") -> None:
    with app.app_context():
        mail.queue(db.session, to="ada@example.com", subject=subject, text="Hi", html=html)
        db.session.commit()


def deliver(app: Flask, *, later: float = 0) -> mail.Delivery:
    with app.app_context():
        try:
            return mail.deliver_due(
                db.session, mailer=mailer_for(app), now=utcnow() + timedelta(seconds=later)
            )
        finally:
            db.session.remove()


def test_without_mail_server_email_is_only_logged(app: Flask) -> None:
    queue(app)
    outcome = jobs.run_job(app, "retry-mail", manual=True)
    assert outcome.outcome == "ok"
    assert "1 written to the log only" in outcome.summary
    [logged] = rows(app, MailLog)
    assert logged.status is MailStatus.LOGGED
    assert deliver(app).logged == 0  # never twice


def test_sent_over_smtp_with_text_and_html(app: Flask, mailbox: Mailbox) -> None:
    use_mailbox(app, mailbox)
    queue(app, subject="Action needed:\nreconnect")
    assert deliver(app).sent == 1
    [message] = mailbox.messages
    assert message["Subject"] == "Action needed: reconnect"  # no header injection
    assert message["From"] == "Pagedesk <pagedesk@localhost>"
    text, html = mailbox.bodies(message)
    assert (text.strip(), html.strip()) == ("Hi", "<p>Hi</p>")
    [sent] = rows(app, MailLog)
    assert sent.status is MailStatus.SENT
    assert sent.sent_at is not None
    assert sent.tries == 1


def test_a_failing_server_is_logged_then_retried_with_backoff(app: Flask, mailbox: Mailbox) -> None:
    use_mailbox(app, mailbox)
    mailbox.refuse = "451 4.3.0 Try again later"
    queue(app)
    assert deliver(app).failed == 1
    [failed] = rows(app, MailLog)
    assert failed.status is MailStatus.FAILED
    assert "451" in failed.error
    assert "Try again later" in failed.error
    assert failed.next_attempt_at > utcnow() + timedelta(seconds=50)
    assert deliver(app).failed == 0  # not before its time
    assert deliver(app, later=61).failed == 1  # the second try also fails
    assert rows(app, MailLog)[0].next_attempt_at > utcnow() + timedelta(seconds=110)
    mailbox.refuse = None
    assert deliver(app, later=200).sent == 1
    [sent] = rows(app, MailLog)
    assert (sent.status, sent.tries, sent.error) == (MailStatus.SENT, 3, None)
    assert len(mailbox.messages) == 1


def test_nobody_listening_is_a_failure_tried_again(app: Flask) -> None:
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    queue(app)
    outcome = jobs.run_job(app, "retry-mail", manual=True)
    assert "1 failed" in outcome.summary
    [failed] = rows(app, MailLog)
    assert failed.status is MailStatus.FAILED
    assert failed.next_attempt_at is not None
    assert "could not be reached" in failed.error


def test_a_refused_address_is_not_retried(app: Flask, mailbox: Mailbox) -> None:
    use_mailbox(app, mailbox)
    mailbox.refuse = "554 5.7.1 Rejected"
    queue(app)
    deliver(app)
    [failed] = rows(app, MailLog)
    assert failed.status is MailStatus.FAILED
    assert failed.next_attempt_at is None
    assert deliver(app, later=7200).failed == 0


def test_the_mail_log_lists_every_email_for_admins_only(
    app: Flask, admin_web: WebClient, agent_web: WebClient
) -> None:
    empty = admin_web.get("/mail")
    assert empty.status_code == 200
    assert "No emails yet" in empty.text
    queue(app, subject="<b>Acme</b> “Support”")
    jobs.run_job(app, "retry-mail", manual=True)
    page = admin_web.get("/mail")
    assert "&lt;b&gt;Acme&lt;/b&gt; “Support”" in page.text
    assert "Logged" in page.text
    assert "ada@example.com" in page.text
    assert "No <code>MAIL_SERVER</code> is set" in page.text
    assert "No emails with status “failed”" in admin_web.get("/mail?status=failed").text
    assert agent_web.get("/mail").status_code == 403


def test_reminder_email_escapes_what_facebook_provides(app: Flask) -> None:
    text, html = mail.render(
        "reminder",
        page="<script>x</script> & Co",
        person="Mia <Manager>",
        lapses=utcnow(),
        reconnect_url="http://desk.example/channels/facebook/connect",
        channels_url="http://desk.example/channels",
    )
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt; &amp; Co" in html
    assert "Mia &lt;Manager&gt;" in html
    assert "<script>x</script> & Co" in text  # plain text stays plain
