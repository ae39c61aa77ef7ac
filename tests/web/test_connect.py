"""Connecting Facebook pages, every branch, through the same doors an admin uses.

Pagedesk reaches the built-in Facebook over HTTP on a loopback port, as it
reaches the real one: ``online`` points ``BASE_URL`` at the live server.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select, text

from tests.facebook import (
    ACME_COMMUNITY,
    ACME_DRAFTS,
    ACME_SUPPORT,
    MIA,
    PAULA,
    connect_pages,
    login_on_facebook,
    pending_id,
)
from tests.helpers import WebClient, make_user
from webapp.blueprints.sandbox.world import SandboxWorld
from webapp.extensions import db
from webapp.models import Channel, ChannelStatus, ChatChannel, PendingConnection, Role


@pytest.fixture
def online(app: Flask, live_server: str) -> SandboxWorld:
    app.config["BASE_URL"] = live_server
    return app.extensions["facebook_sandbox"]


connect = connect_pages


def channel(app: Flask, page_id: str = ACME_SUPPORT) -> Channel:
    with app.app_context():
        found = db.session.scalar(select(Channel).where(Channel.page_id == page_id))
        assert found is not None
        db.session.expunge(found)
        return found


def test_the_intro_says_what_can_be_connected(admin_web: WebClient) -> None:
    page = admin_web.get("/channels/facebook")
    assert "only a <strong>public</strong> Facebook page" in page.text
    assert "<strong>full admin access</strong>" in page.text
    assert "must be\n      connected again" in page.text
    assert "Continue with Facebook" in page.text
    assert 'href="/channels/facebook"' in admin_web.get("/channels/new").text


def test_connecting_a_page(app: Flask, admin_web: WebClient, online: SandboxWorld) -> None:
    pending, done = connect(admin_web, ACME_SUPPORT)
    assert done.status_code == 302
    assert done.headers["Location"] == "/channels"
    bound = channel(app)
    assert bound.status is ChannelStatus.ACTIVE
    assert bound.name == "Acme Support"
    assert bound.facebook_user_name == "Mia Manager"
    assert bound.expires_at is None  # a page token from a long-lived user token
    assert bound.data_access_expires_at is not None
    assert (bound.data_access_expires_at - datetime.now(UTC)).days == 89
    fields = online.snapshot()["pages"][ACME_SUPPORT]["subscriptions"][
        app.config["FACEBOOK_APP_ID"]
    ]
    assert fields == [
        "messages", "messaging_postbacks", "message_echoes", "message_reads",
        "message_deliveries", "message_reactions", "message_edits", "feed",
    ]  # fmt: skip
    listing = admin_web.get("/channels").text
    assert "Connected: Acme Support." in listing
    assert "Active" in listing
    assert "in 89 days" in listing
    assert "added by Ada Admin" in listing


def test_the_selection_explains_ineligible_pages(
    admin_web: WebClient, online: SandboxWorld
) -> None:
    pending = pending_id(login_on_facebook(admin_web))
    page = admin_web.get(f"/channels/facebook/pages/{pending}").text
    assert page.count('type="checkbox"') == 3
    assert page.count("disabled") == 2
    assert "You can only moderate this page: connecting it needs full admin access." in page
    assert "This page isn&#39;t published" in page


def test_ticking_updates_the_confirm_panel(admin_web: WebClient, online: SandboxWorld) -> None:
    pending = pending_id(login_on_facebook(admin_web))
    panel = admin_web.post(
        f"/channels/facebook/pages/{pending}/preview", {"page_id": ACME_SUPPORT}, htmx=True
    )
    assert panel.status_code == 200
    assert "<html" not in panel.text
    assert 'id="confirm-panel"' in panel.text
    assert "Connect <strong>1 page</strong>:\n      Acme Support." in panel.text


def test_cancel_on_facebook_comes_back_to_a_clear_message(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    back = login_on_facebook(admin_web, cancel=True)
    assert back.headers["Location"] == "/channels/facebook"
    assert (
        "You cancelled on Facebook, so no page was connected."
        in admin_web.get("/channels/facebook").text
    )
    with app.app_context():
        assert db.session.scalar(select(Channel)) is None


@pytest.mark.parametrize(
    "query", ["?code=AQx&state=forged", "?code=AQx", "?state=&error=access_denied"]
)
def test_a_bad_or_missing_state_is_refused(
    admin_web: WebClient, online: SandboxWorld, query: str
) -> None:
    admin_web.get("/channels/facebook/connect")  # a real login started, with its own state
    response = admin_web.get(f"/channels/facebook/callback{query}")
    assert response.status_code == 400
    assert "That Facebook login didn&#39;t start here" in response.text


def test_a_state_works_only_once(admin_web: WebClient, online: SandboxWorld) -> None:
    first = login_on_facebook(admin_web)
    assert first.status_code == 302
    replay = admin_web.get(first.request.full_path)
    assert replay.status_code == 400


def test_an_expired_pending_connection_starts_over(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    pending = pending_id(login_on_facebook(admin_web))
    with app.app_context():
        row = db.session.get(PendingConnection, pending)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        db.session.commit()
    response = admin_web.post(f"/channels/facebook/pages/{pending}", {"page_id": ACME_SUPPORT})
    assert response.headers["Location"] == "/channels/facebook"
    assert "has expired (it is kept 15 minutes)" in admin_web.get("/channels/facebook").text


def test_another_admin_cannot_use_my_pending_connection(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    pending = pending_id(login_on_facebook(admin_web))
    other = WebClient(app.test_client())
    other.login(make_user(app, "other@example.com", Role.ADMIN))
    response = other.post(f"/channels/facebook/pages/{pending}", {"page_id": ACME_SUPPORT})
    assert response.headers["Location"] == "/channels/facebook"
    with app.app_context():
        assert db.session.scalar(select(Channel)) is None


@pytest.mark.parametrize("page_id", [ACME_COMMUNITY, ACME_DRAFTS, "999"])
def test_an_ineligible_page_forced_through_is_refused(
    app: Flask, admin_web: WebClient, online: SandboxWorld, page_id: str
) -> None:
    _, response = connect(admin_web, page_id)
    assert response.status_code == 422
    assert "not connected." in response.text
    with app.app_context():
        assert db.session.scalar(select(Channel)) is None


def test_one_page_failing_does_not_stop_the_others(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    pending = pending_id(login_on_facebook(admin_web, user_id=PAULA))
    first, second = "200000000000101", "200000000000102"
    online.set_tasks(PAULA, first, [])  # Paula loses her role between login and confirm
    response = admin_web.post(f"/channels/facebook/pages/{pending}", {"page_id": [first, second]})
    assert response.status_code == 200
    assert "Paula&#39;s Shop 1</strong>:\n    not connected. The person who" in response.text
    assert "no longer has a role on it." in response.text
    assert "Paula&#39;s Shop 2</strong>:\n    connected." in response.text
    assert channel(app, second).status is ChannelStatus.ACTIVE


def test_reconnecting_rebinds_the_same_channel(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    connect(admin_web, ACME_SUPPORT)
    before = channel(app)
    with app.app_context():
        chat = ChatChannel(name="Support chat")
        db.session.add(chat)
        db.session.flush()
        db.session.get(Channel, before.id).messenger_chat_id = chat.id
        db.session.commit()
    online.change_password(MIA)  # the old keys die; connecting again brings new ones
    other = WebClient(app.test_client())
    other.login(make_user(app, "bea@example.com", Role.ADMIN, name="Bea Admin"))
    pending = pending_id(login_on_facebook(other))
    assert (
        "Already connected: connecting it again renews its access key"
        in other.get(f"/channels/facebook/pages/{pending}").text
    )
    other.post(f"/channels/facebook/pages/{pending}", {"page_id": ACME_SUPPORT})
    after = channel(app)
    assert after.id == before.id
    assert after.page_token_sealed != before.page_token_sealed
    assert after.messenger_chat_id is not None  # its settings and history stay
    assert after.status is ChannelStatus.ACTIVE
    with app.app_context():
        assert (
            db.session.scalar(select(Channel).where(Channel.id == after.id)).connected_by.name
            == "Bea Admin"
        )


def test_disconnecting_unsubscribes_and_forgets_the_keys(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    connect(admin_web, ACME_SUPPORT)
    bound = channel(app)
    response = admin_web.post(f"/channels/{bound.id}/disconnect", htmx=True)
    assert response.status_code == 200
    assert f'id="page-{bound.id}"' in response.text
    assert "Disconnected" in response.text
    gone = channel(app)
    assert gone.status is ChannelStatus.DISCONNECTED
    assert gone.page_token_sealed is None
    assert gone.user_token_sealed is None
    assert online.snapshot()["pages"][ACME_SUPPORT]["subscriptions"] == {}


def test_disconnecting_a_page_whose_key_died_still_disconnects(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    connect(admin_web, ACME_SUPPORT)
    online.change_password(MIA)
    admin_web.post(f"/channels/{channel(app).id}/disconnect")
    assert channel(app).status is ChannelStatus.DISCONNECTED
    assert "Facebook could not be told" in admin_web.get("/channels").text


def test_routing_a_page_to_a_chat_channel(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    connect(admin_web, ACME_SUPPORT)
    admin_web.post("/channels/chats", {"name": "Support chat"})
    bound = channel(app)
    settings = admin_web.get(f"/channels/{bound.id}/settings").text
    assert "By default, messages from Facebook come in as tickets." in settings
    with app.app_context():
        chat_id = db.session.scalar(select(ChatChannel.id))
    saved = admin_web.post(
        f"/channels/{bound.id}/settings",
        {"messenger_chat_id": str(chat_id), "comments_chat_id": ""},
    )
    assert saved.status_code == 302
    assert channel(app).messenger_chat_id == chat_id
    assert channel(app).comments_chat_id is None
    assert "Messenger → Support chat" in admin_web.get("/channels").text
    refused = admin_web.post(f"/channels/chats/{chat_id}/delete")
    assert refused.status_code == 302
    assert "receives conversations from Acme Support (Messenger)" in admin_web.get("/channels").text


def test_no_token_is_stored_or_logged_in_clear(
    app: Flask, admin_web: WebClient, online: SandboxWorld, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    pending, _ = connect(admin_web, ACME_SUPPORT)
    tokens = list(online.state_tokens())
    assert len(tokens) >= 3  # short- and long-lived user tokens, page tokens
    with app.app_context():
        rows = []
        for table in ("channels", "pending_connections"):
            query = text(f"SELECT * FROM {table}")  # noqa: S608 (our own table names)
            rows += [" ".join(map(str, row)) for row in db.session.execute(query)]
    dump = "\n".join(rows)
    assert "Acme Support" in dump  # the rows are there...
    assert not [token for token in tokens if token in dump]  # ...with no token in clear
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert not [token for token in tokens if token in logged]
    assert not [token for token in tokens if token in admin_web.get("/channels").text]


def test_over_htmx_each_page_connects_on_its_own_line(
    app: Flask, admin_web: WebClient, online: SandboxWorld
) -> None:
    pending = pending_id(login_on_facebook(admin_web, user_id=PAULA))
    first, second = "200000000000101", "200000000000102"
    progress = admin_web.post(
        f"/channels/facebook/pages/{pending}", {"page_id": [first, second]}, htmx=True
    )
    assert progress.status_code == 200
    assert "Connecting 2 pages" in progress.text
    lines = re.findall(r'hx-post="([^"]+/connect/\d+)"', progress.text)
    assert lines == [
        f"/channels/facebook/pages/{pending}/connect/{page}" for page in (first, second)
    ]
    online.set_tasks(PAULA, first, [])
    failed, done = (admin_web.post(line, htmx=True) for line in lines)
    assert "Paula&#39;s Shop 1</strong>:\n    not connected. The person who" in failed.text
    assert "Paula&#39;s Shop 2</strong>:\n    connected." in done.text
    assert "<html" not in done.text
    assert channel(app, second).status is ChannelStatus.ACTIVE
