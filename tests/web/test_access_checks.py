"""check-tokens against the sandbox: every way a page loses access, and reconnecting.

Each case breaks the page the way Facebook does (a sandbox knob), runs the job
as the scheduler would, and checks the channel, the admins' email and the
replies that were waiting to go out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from tests.facebook import ACME_SUPPORT, MIA, connect_pages
from tests.helpers import WebClient, make_user
from tests.mailbox import Mailbox, mailbox_fixture, use_mailbox  # noqa: F401
from tests.web.test_simulator import wait_for
from tests.web.test_webhooks import CORA, DAN, process, rows
from webapp import jobs
from webapp.blueprints.sandbox.world import SandboxWorld
from webapp.extensions import db
from webapp.models import (
    Channel,
    ChannelStatus,
    Conversation,
    Direction,
    MailLog,
    Message,
    MessageKind,
    OutboundStatus,
    Role,
    Route,
    utcnow,
)

Knob = Callable[[SandboxWorld], None]

LOSSES: dict[str, tuple[Knob, ChannelStatus, str]] = {
    "password changed": (
        lambda s: s.change_password(MIA), ChannelStatus.EXPIRED, "changed their Facebook password",
    ),
    "app removed": (
        lambda s: s.remove_app(MIA), ChannelStatus.EXPIRED, "removed the app on Facebook",
    ),
    "full admin taken": (
        lambda s: s.revoke_task(MIA, ACME_SUPPORT, "MANAGE"), ChannelStatus.ACCESS_LOST,
        "Mia Manager no longer has full admin access to this page",
    ),
    "every role taken": (
        lambda s: s.set_tasks(MIA, ACME_SUPPORT, []), ChannelStatus.ACCESS_LOST,
        "no longer has a role on it",
    ),
    "unpublished": (
        lambda s: s.set_published(ACME_SUPPORT, False), ChannelStatus.ACCESS_LOST,
        "no longer published",
    ),
    "data access lapsed": (
        lambda s: s.set_data_access_expires_at(MIA, s.now() - 60), ChannelStatus.EXPIRED,
        "access key has expired",
    ),
}  # fmt: skip


def sandbox(app: Flask) -> SandboxWorld:
    return app.extensions["facebook_sandbox"]


def check(app: Flask) -> str:
    outcome = jobs.run_job(app, "check-tokens", manual=True)
    assert outcome.outcome == "ok", outcome.summary
    return outcome.summary


def channel_of(app: Flask) -> Channel:
    [channel] = rows(app, Channel)
    return channel


def waiting_reply(
    app: Flask, web: WebClient, customer: str = CORA, *, window_left: timedelta | None = None
) -> int:
    """The customer writes (sandbox simulator); an agent's reply is queued for later."""
    courier = app.extensions["facebook_sandbox_courier"]
    sent = len(courier.history)
    web.get("/sandbox/facebook/simulator")
    web.post(
        "/sandbox/facebook/simulator",
        {"page_id": ACME_SUPPORT, "customer": customer, "action": "text", "text": "Parcel?"},
    )
    wait_for(courier, sent + 1)
    process(app)
    with app.app_context():
        [conversation] = [
            c for c in db.session.scalars(select(Conversation)) if c.contact.external_id == customer
        ]
        if window_left is not None:
            conversation.last_customer_message_at = utcnow() - timedelta(hours=24) + window_left
        reply = Message(
            conversation_id=conversation.id, channel_id=conversation.channel_id,
            direction=Direction.OUTBOUND, text="It left our warehouse today.",
            status=OutboundStatus.QUEUED, route=Route.MESSENGER, kind=MessageKind.STANDARD,
            next_attempt_at=utcnow() + timedelta(hours=1),
        )  # fmt: skip
        db.session.add(reply)
        db.session.commit()
        return reply.id


def reply_of(app: Flask, reply_id: int) -> Message:
    [reply] = rows(app, Message, Message.id == reply_id)
    return reply


def test_a_healthy_page_is_checked_and_its_dates_kept(app: Flask, connected: Channel) -> None:
    summary = check(app)
    assert "Acme Support: OK, key lapses" in summary
    channel = channel_of(app)
    assert channel.status is ChannelStatus.ACTIVE
    assert channel.last_checked_at is not None
    assert channel.data_access_expires_at == connected.data_access_expires_at
    assert rows(app, MailLog) == []


@pytest.mark.parametrize("loss", list(LOSSES))
def test_each_way_of_losing_access_is_found_and_told_once(
    app: Flask,
    connected: Channel,
    admin_web: WebClient,
    mailbox: Mailbox,
    loss: str,
) -> None:
    knob, status, reason = LOSSES[loss]
    make_user(app, "grace@example.com", Role.ADMIN, name="Grace")
    make_user(app, "alan@example.com", Role.AGENT, name="Alan")
    use_mailbox(app, mailbox)
    reply_id = waiting_reply(app, admin_web)
    knob(sandbox(app))

    summary = check(app)
    channel = channel_of(app)
    assert channel.status is status
    assert reason in channel.status_reason
    assert reason in summary
    assert "1 reply held" in summary
    assert reply_of(app, reply_id).status is OutboundStatus.HELD
    assert sorted(mailbox.to()) == ["ada@example.com", "grace@example.com"]  # admins only
    assert set(mailbox.subjects()) == {
        "Action needed: reconnect the Facebook page “Acme Support” now"
    }
    text, html = mailbox.bodies(mailbox.messages[0])
    assert reason in text
    assert f"{app.config['BASE_URL']}/channels/facebook/connect" in text
    assert f'href="{app.config["BASE_URL"]}/channels/facebook/connect"' in html

    assert "waiting to be reconnected" in check(app)
    jobs.run_job(app, "retry-mail", manual=True)
    assert len(mailbox.messages) == 2  # told once, not at every check


def test_invalidated_tokens_from_the_sandbox_page(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    admin_web.get("/sandbox/facebook/")
    assert (
        admin_web.post("/sandbox/facebook/knobs/invalidate-tokens", {"user_id": MIA}).status_code
        == 302
    )
    check(app)
    channel = channel_of(app)
    assert channel.status is ChannelStatus.EXPIRED
    assert channel.status_reason == "Facebook no longer accepts this page's access key."
    listing = admin_web.get("/channels").text
    assert "Expired" in listing
    assert "Facebook no longer accepts this page&#39;s access key." in listing
    assert "Replies wait until it is reconnected." in listing
    assert 'class="button small primary" href="/channels/facebook/connect">Reconnect' in listing
    [logged] = rows(app, MailLog)
    assert logged.status.value == "logged"  # no MAIL_SERVER: the mail log only


def test_a_dropped_subscription_is_renewed_and_said(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    admin_web.get("/sandbox/facebook/")
    dropped = admin_web.post("/sandbox/facebook/knobs/drop-subscription", {"page_id": ACME_SUPPORT})
    assert dropped.status_code == 302
    assert not sandbox(app).subscribed(ACME_SUPPORT, "messages")
    summary = check(app)
    assert "the app's subscription was dropped); Pagedesk subscribed again." in summary
    assert sandbox(app).subscribed(ACME_SUPPORT, "messages")
    assert sandbox(app).subscribed(ACME_SUPPORT, "feed")
    assert channel_of(app).status is ChannelStatus.ACTIVE
    assert "subscribed again" not in check(app)


def test_a_disconnected_page_is_not_checked(app: Flask, connected: Channel) -> None:
    with app.app_context():
        db.session.get(Channel, connected.id).status = ChannelStatus.DISCONNECTED
        db.session.commit()
    assert check(app).startswith("No connected pages to check.")


def test_reconnecting_clears_it_and_sends_the_held_replies(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    reply_id = waiting_reply(app, admin_web)
    late_id = waiting_reply(app, admin_web, DAN, window_left=timedelta(minutes=-1))
    sandbox(app).change_password(MIA)
    check(app)
    assert reply_of(app, reply_id).status is OutboundStatus.HELD
    assert reply_of(app, late_id).status is OutboundStatus.HELD

    _, done = connect_pages(admin_web, ACME_SUPPORT)
    assert done.status_code == 302
    channel = channel_of(app)
    assert channel.status is ChannelStatus.ACTIVE
    assert channel.status_reason is None
    assert channel.connected_at > connected.connected_at
    assert reply_of(app, reply_id).status is OutboundStatus.SENT
    late = reply_of(app, late_id)
    assert late.status is OutboundStatus.FAILED  # the window closed while it waited
    assert late.failure.startswith("Not sent after the reconnect")
    notes = [m.text for m in rows(app, Message, Message.system.is_(True))]
    assert any("could not be sent after the page was reconnected" in n for n in notes)
    assert "Active" in admin_web.get("/channels").text

    sandbox(app).remove_app(MIA)  # a new connection: a loss is told again
    check(app)
    jobs.run_job(app, "retry-mail", manual=True)
    assert len(rows(app, MailLog)) == 2
