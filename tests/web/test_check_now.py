"""Channels → Check now: one page checked at once, from its row."""

from __future__ import annotations

from flask import Flask

from tests.facebook import ACME_SUPPORT
from tests.helpers import WebClient
from tests.web.test_access_checks import channel_of, sandbox
from webapp.extensions import db
from webapp.models import Channel, ChannelStatus


def test_check_now_renews_a_dropped_subscription_and_says_so(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    admin_web.get("/sandbox/facebook/")
    admin_web.post("/sandbox/facebook/knobs/drop-subscription", {"page_id": ACME_SUPPORT})
    assert not sandbox(app).subscribed(ACME_SUPPORT, "messages")
    before = channel_of(app).last_checked_at
    admin_web.get("/channels")
    row = admin_web.post(f"/channels/{connected.id}/check", htmx=True)
    assert row.status_code == 200
    assert f'id="page-{connected.id}"' in row.text
    assert "Pagedesk subscribed again." in row.text  # the flash, carried out of band
    assert sandbox(app).subscribed(ACME_SUPPORT, "messages")
    assert channel_of(app).last_checked_at > before
    page = admin_web.post(f"/channels/{connected.id}/check", follow_redirects=True)
    assert "Acme Support: OK" in page.text
    assert "subscribed again" not in page.text


def test_check_now_on_a_disconnected_or_unknown_page(
    app: Flask, connected: Channel, admin_web: WebClient, agent_web: WebClient
) -> None:
    agent_web.get("/inbox")
    assert agent_web.post(f"/channels/{connected.id}/check").status_code == 403
    with app.app_context():
        db.session.get(Channel, connected.id).status = ChannelStatus.DISCONNECTED
        db.session.commit()
    before = channel_of(app).last_checked_at
    admin_web.get("/channels")
    page = admin_web.post(f"/channels/{connected.id}/check", follow_redirects=True)
    assert "is disconnected: connect it again to check it." in page.text
    assert channel_of(app).last_checked_at == before
    assert admin_web.post("/channels/999999/check").status_code == 404
