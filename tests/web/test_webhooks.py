"""Facebook's webhook, through the real endpoint with real signatures (reference §5)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from sqlalchemy import func, select, text, update
from werkzeug.test import TestResponse

from tests.helpers import WebClient
from webapp.extensions import db
from webapp.facebook.webhooks import sign
from webapp.helpdesk import inbound, intake
from webapp.integrations import facebook_kit
from webapp.models import (
    Channel,
    ChatChannel,
    Contact,
    Conversation,
    EventStatus,
    Message,
    WebhookDelivery,
    WebhookEvent,
    utcnow,
)
from webapp.worker import WebhookWorker

PAYLOADS = Path(__file__).parent.parent / "payloads"
CORA, DAN, PHOEBE = "700000100000001", "700000100000002", "700000100000003"


def body(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def deliver(app: Flask, raw: bytes | str, *, signature: str | None = "good") -> TestResponse:
    """POST a body to the webhook as Facebook does."""
    raw = body(raw) if isinstance(raw, str) else raw
    headers = {"Content-Type": "application/json"}
    if signature == "good":
        headers["X-Hub-Signature-256"] = sign(raw, app.config["FACEBOOK_APP_SECRET"])
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return app.test_client().post("/webhooks/facebook", data=raw, headers=headers)


def process(app: Flask, *, later: float = 0) -> inbound.DrainResult:
    """What the worker does; ``later`` runs it that many seconds in the future."""
    with app.app_context():
        return inbound.drain(
            db.session,
            kit_factory=lambda: facebook_kit(app),
            now=lambda: utcnow() + timedelta(seconds=later),
        )


def unpack(app: Flask) -> int:
    """The worker's first step: a stored delivery's events, read out of its body."""
    with app.app_context():
        return inbound.unpack(db.session)


def rows(app: Flask, model: Any, *where: Any) -> list[Any]:
    with app.app_context():
        found = list(db.session.scalars(select(model).where(*where).order_by(model.id)))
        for row in found:
            db.session.expunge(row)
        return found


def message(app: Flask, facebook_id: str) -> Message:
    [found] = rows(app, Message, Message.facebook_id == facebook_id)
    return found


# --- The endpoint ---------------------------------------------------------------------


def test_verification_echoes_the_challenge(app: Flask) -> None:
    client = app.test_client()
    token = app.config["FACEBOOK_VERIFY_TOKEN"]
    ok = client.get(
        f"/webhooks/facebook?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
    )
    assert (ok.status_code, ok.text, ok.mimetype) == (200, "1158201444", "text/plain")
    wrong = client.get(
        "/webhooks/facebook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
    )
    assert wrong.status_code == 403
    mode = client.get(
        f"/webhooks/facebook?hub.mode=unsubscribe&hub.verify_token={token}&hub.challenge=1"
    )
    assert mode.status_code == 403


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "sha256=nothex"])
def test_a_missing_or_wrong_signature_is_refused_and_nothing_stored(
    app: Flask, signature: str | None
) -> None:
    assert deliver(app, "messenger/text.json", signature=signature).status_code == 403
    assert rows(app, WebhookDelivery) == []


def test_a_good_delivery_is_stored_exactly_as_received(app: Flask, admin_web: WebClient) -> None:
    raw = body("messenger/batch.json")
    response = deliver(app, raw)
    assert (response.status_code, response.text) == (200, "EVENT_RECEIVED")
    [delivery] = rows(app, WebhookDelivery)
    assert (delivery.body, delivery.unpacked_at) == (raw, None)
    assert rows(app, WebhookEvent) == []  # the request only stores; the worker unpacks
    assert "1 delivery is stored and waiting" in admin_web.get("/webhooks/log").text
    assert unpack(app) == 1
    assert "waiting for the worker" not in admin_web.get("/webhooks/log").text
    assert unpack(app) == 0
    [delivery] = rows(app, WebhookDelivery)
    assert (delivery.event_count, delivery.error) == (3, None)
    assert delivery.unpacked_at is not None
    events = rows(app, WebhookEvent)
    assert [(e.position, e.kind) for e in events] == [
        (0, "message"),
        (1, "message"),
        (2, "message"),
    ]
    assert {e.status for e in events} == {EventStatus.PENDING}


def test_a_delivery_is_stored_as_the_orm_would_store_it(app: Flask) -> None:
    """The intake writes through the driver: its times still compare and read back as
    every other row's do (on SQLite, the same text; an offset would break ``==``)."""
    at = datetime(2026, 12, 2, 9, 30, 15, 250000, tzinfo=UTC)
    with app.app_context():
        intake.store_delivery(db.engine, body("messenger/text.json"), now=at)
        found = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.received_at == at))
        [delivery] = found.all()
        assert (delivery.received_at, delivery.unpacked_at, delivery.event_count) == (at, None, 0)
        assert delivery.body == body("messenger/text.json")


def test_a_page_webhook_whose_events_cannot_be_read_keeps_why(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    raw = body("messenger/text.json").replace(b'"timestamp": 1', b'"timestamp": "soon", "x": 1')
    assert deliver(app, raw).status_code == 200  # a page webhook: acknowledged, then read
    process(app)
    [delivery] = rows(app, WebhookDelivery)
    assert delivery.body == raw
    assert (delivery.event_count, rows(app, WebhookEvent)) == (0, [])
    assert "Its events could not be read: invalid literal" in (delivery.error or "")
    page = admin_web.get(f"/webhooks/log/deliveries/{delivery.id}").text
    assert "Its events could not be read" in page
    assert "Its events could not be read" in admin_web.get("/webhooks/log").text


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{not json", "not JSON"),
        (b'{"object": "user", "entry": []}', "not a page webhook"),
        (b'{"object": "page"}', 'no "entry" list'),
        (b"[1, 2]", "not a page webhook"),
    ],
)
def test_a_signed_malformed_body_gets_400_and_is_recorded(
    app: Flask, admin_web: WebClient, raw: bytes, reason: str
) -> None:
    response = deliver(app, raw)
    assert response.status_code == 400
    assert reason in response.text
    [delivery] = rows(app, WebhookDelivery)
    assert delivery.body == raw
    assert reason in (delivery.error or "")
    assert rows(app, WebhookEvent) == []
    assert reason in admin_web.get("/webhooks/log").text.replace("&#34;", '"')


def test_an_oversize_body_is_refused(app: Flask) -> None:
    raw = b'{"object": "page", "entry": [], "padding": "' + b"x" * intake.MAX_BODY_BYTES + b'"}'
    assert deliver(app, raw).status_code == 413
    assert rows(app, WebhookDelivery) == []


def test_when_the_database_cannot_take_it_facebook_retries_and_nothing_half_written_stays(
    app: Flask,
) -> None:
    with app.app_context():
        db.session.execute(text("ALTER TABLE webhook_deliveries RENAME TO deliveries_away"))
        db.session.commit()
    assert deliver(app, "messenger/text.json").status_code == 503
    with app.app_context():
        db.session.execute(text("ALTER TABLE deliveries_away RENAME TO webhook_deliveries"))
        db.session.commit()
    assert rows(app, WebhookDelivery) == []


def test_when_the_database_ends_the_intake_connection_the_next_delivery_opens_another(
    app: Flask,
) -> None:
    """Each process stores deliveries on a connection of its own, idle between bursts: a
    server or firewall that closes it costs no delivery and no retry from Facebook."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("a server that ends connections")
    assert deliver(app, "messenger/text.json").status_code == 200
    with app.app_context():
        ended = db.session.scalar(
            text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                 " WHERE application_name = :name"), {"name": intake.APPLICATION_NAME},
        )  # fmt: skip
        db.session.commit()
    assert ended == 1
    assert deliver(app, "messenger/postback.json").status_code == 200
    assert len(rows(app, WebhookDelivery)) == 2


# --- What each event becomes ----------------------------------------------------------


def test_a_text_message_makes_a_contact_a_conversation_and_a_message(
    app: Flask, connected: Channel
) -> None:
    deliver(app, "messenger/text.json")
    assert process(app).processed == 1
    [contact] = rows(app, Contact)
    assert (contact.external_id, contact.name) == (
        CORA,
        "Cora Customer",
    )  # from the User Profile API
    assert contact.picture_url
    [conversation] = rows(app, Conversation)
    assert (conversation.source, conversation.mode, conversation.status) == (
        "messenger",
        "ticket",
        "open",
    )
    assert conversation.last_customer_message_at == message(app, "m_text_1").sent_at
    assert message(app, "m_text_1").text == "Hello, is my order on its way? Grüße"
    first = rows(app, Channel)[0].last_event_at
    assert first is not None
    [event] = rows(app, WebhookEvent)
    assert event.status is EventStatus.DONE
    # "Last event" is shown to the minute, and moves on about once a minute.
    deliver(app, "messenger/postback.json")
    process(app, later=30)
    assert rows(app, Channel)[0].last_event_at == first
    deliver(app, "messenger/quick_reply.json")
    process(app, later=61)
    assert rows(app, Channel)[0].last_event_at > first + timedelta(seconds=60)


def test_attachments_of_every_type(app: Flask, connected: Channel) -> None:
    deliver(app, "messenger/attachments.json")
    process(app)
    kinds = [a["type"] for a in message(app, "m_files_1").attachments]
    assert kinds == ["image", "video", "audio", "file", "fallback", "post", "reel"]
    assert message(app, "m_files_1").attachments[4]["title"] == "TAHITI - Heaven on Earth"


def test_a_sticker_in_both_forms_is_shown_once(app: Flask, connected: Channel) -> None:
    deliver(app, "messenger/sticker_both_forms.json")
    deliver(app, "messenger/sticker_old_form_again.json")
    process(app)
    sticker = message(app, "m_sticker_1")
    assert sticker.attachments == [
        {
            "type": "sticker",
            "url": "https://scontent.xx.fbcdn.net/v/like.png",
            "title": None,
            "sticker_id": "369239263222822",
        }
    ]


def test_quick_replies_replies_postbacks_and_no_profile(app: Flask, connected: Channel) -> None:
    for name in ("text", "quick_reply", "reply_to", "postback", "no_profile"):
        deliver(app, f"messenger/{name}.json")
    process(app)
    assert message(app, "m_quick_1").quick_reply == "COLOR_RED"
    assert message(app, "m_reply_1").reply_to == "m_text_1"
    postback = message(app, "m_postback_1")
    assert (postback.text, postback.quick_reply, postback.direction) == (
        "Talk to an agent",
        "HUMAN_HANDOFF",
        "in",
    )
    names = {c.external_id: c.name for c in rows(app, Contact)}
    assert names[DAN] == "Dan Díaz"
    assert names[PHOEBE] == "Facebook user …0003"  # Facebook refused: 2018218


def test_reactions_and_edits_keep_the_earlier_text(app: Flask, connected: Channel) -> None:
    for name in ("text", "reaction", "edit"):
        deliver(app, f"messenger/{name}.json")
    process(app)
    edited = message(app, "m_text_1")
    assert edited.reactions == {CORA: "\u2764\ufe0f"}
    assert edited.text == "Hello, is my order #42 on its way?"
    assert edited.previous_texts == ["Hello, is my order on its way? Grüße"]
    deliver(app, "messenger/unreaction.json")
    deliver(app, "messenger/edit.json")  # the same edit again changes nothing
    process(app)
    again = message(app, "m_text_1")
    assert again.reactions == {}
    assert again.previous_texts == ["Hello, is my order on its way? Grüße"]


def test_an_echo_from_facebooks_inbox_then_delivery_and_read(
    app: Flask, connected: Channel
) -> None:
    for name in ("text", "echo_from_page_inbox", "delivery"):
        deliver(app, f"messenger/{name}.json")
    process(app)
    echo = message(app, "m_echo_1")
    assert (echo.direction, echo.sent_from_facebook, echo.status) == ("out", True, "delivered")
    deliver(app, "messenger/read.json")
    process(app)
    assert message(app, "m_echo_1").status == "read"
    assert len(rows(app, Conversation)) == 1


def test_a_read_before_the_echo_it_covers_still_applies(app: Flask, connected: Channel) -> None:
    for name in ("text", "read"):
        deliver(app, f"messenger/{name}.json")
    process(app)
    deliver(app, "messenger/echo_from_page_inbox.json")
    process(app)
    assert message(app, "m_echo_1").status == "read"


def test_a_batch_of_entries_and_events(app: Flask, connected: Channel) -> None:
    deliver(app, "messenger/batch.json")
    assert process(app).processed == 3
    assert [m.text for m in rows(app, Message, Message.facebook_id.like("m_batch_%"))] == [
        "first",
        "second",
        "third",
    ]
    assert len(rows(app, Conversation)) == 2


def test_ids_above_two_to_the_53_stay_exact(app: Flask, connected: Channel) -> None:
    deliver(app, "messenger/big_ids.json")
    process(app)
    assert [c.external_id for c in rows(app, Contact)] == ["12345678901234567890"]


def test_a_duplicate_delivery_never_duplicates_a_message(app: Flask, connected: Channel) -> None:
    deliver(app, "messenger/text.json")
    deliver(app, "messenger/text.json")
    process(app)
    assert len(rows(app, WebhookDelivery)) == 2
    assert len(rows(app, Message, Message.facebook_id == "m_text_1")) == 1
    outcomes = [e.outcome for e in rows(app, WebhookEvent)]
    assert outcomes[1] == "Already recorded (a repeated delivery)"


def test_an_edit_before_its_message_waits_and_is_retried(app: Flask, connected: Channel) -> None:
    deliver(app, "messenger/edit.json")
    process(app)
    [event] = rows(app, WebhookEvent)
    assert event.status is EventStatus.PENDING
    assert event.error == "Waiting: the edited message has not arrived yet"
    assert utcnow() < event.next_attempt_at <= utcnow() + inbound.WAIT_STEP  # no long backoff
    deliver(app, "messenger/text.json")
    process(app)  # the message lands, and the edit waiting for it runs in the same pass
    assert message(app, "m_text_1").text == "Hello, is my order #42 on its way?"
    assert message(app, "m_text_1").previous_texts != []
    assert {e.status for e in rows(app, WebhookEvent)} == {EventStatus.DONE}


@pytest.mark.parametrize("name", ["messenger/edit.json", "messenger/reaction.json"])
def test_an_event_about_a_message_never_received_settles_after_two_minutes(
    app: Flask, connected: Channel, name: str
) -> None:
    deliver(app, name)
    process(app)
    process(app, later=60)
    [event] = rows(app, WebhookEvent)
    assert (event.status, event.tries) == (EventStatus.PENDING, 2)
    process(app, later=121)
    [event] = rows(app, WebhookEvent)
    assert event.status is EventStatus.IGNORED
    assert event.outcome == (
        "Ignored: about a message Pagedesk never received (sent before the page was connected?)"
    )
    assert event.error is None
    assert rows(app, Message) == []


def test_a_failing_event_is_retried_with_backoff_then_marked_failed(
    app: Flask, connected: Channel
) -> None:
    raw = body("messenger/text.json").replace(b'"mid": "m_text_1", ', b"")  # a message with no mid
    deliver(app, raw)
    process(app)
    [event] = rows(app, WebhookEvent)
    assert (event.status, event.tries) == (EventStatus.PENDING, 1)
    assert "KeyError" in (event.error or "")
    waits = []
    for step in range(2, inbound.MAX_TRIES + 1):
        process(app, later=4000 * step)
        [event] = rows(app, WebhookEvent)
        waits.append(event.next_attempt_at)
    assert event.status is EventStatus.FAILED
    assert event.tries == inbound.MAX_TRIES
    assert rows(app, Message) == []


@pytest.mark.parametrize(
    ("name", "kind", "outcome"),
    [
        ("messenger/optin.json", "optin", "opt-in"),
        ("messenger/referral.json", "referral", "referral"),
        ("messenger/standby.json", "standby", "standby"),
        ("messenger/unknown.json", "unknown", "does not act on"),
        ("feed/post_reaction.json", "post_reaction", "reaction to a post"),
        ("feed/page_post.json", "page_post", "new post"),
    ],
)
def test_events_pagedesk_does_not_act_on_are_ignored_with_their_type(
    app: Flask, connected: Channel, name: str, kind: str, outcome: str
) -> None:
    deliver(app, name)
    process(app)
    [event] = rows(app, WebhookEvent)
    assert (event.kind, event.status) == (kind, EventStatus.IGNORED)
    assert outcome in (event.outcome or "")
    assert rows(app, Message) == []


def test_events_for_a_page_that_is_not_connected_are_ignored(
    app: Flask, connected: Channel
) -> None:
    assert deliver(app, "messenger/not_connected_page.json").status_code == 200
    process(app)
    [event] = rows(app, WebhookEvent)
    assert event.status is EventStatus.IGNORED
    assert event.outcome == "Ignored: this page is not connected"


def test_a_policy_block_is_shown_on_the_channel(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    deliver(app, "messenger/policy_block.json")
    process(app)
    listing = admin_web.get("/channels").text
    assert (
        "Facebook blocked sending: The app sent messages that go against Messenger policies."
        in listing
    )
    assert "Last event" in listing


# --- Comments -----------------------------------------------------------------------------


def test_a_comment_thread_is_one_conversation(app: Flask, connected: Channel) -> None:
    for name in ("comment_add", "comment_reply", "comment_by_page"):
        deliver(app, f"feed/{name}.json")
    process(app)
    [conversation] = rows(app, Conversation)
    assert conversation.source == "comment"
    assert conversation.thread_id == "900000000000001_100000000000001"
    assert conversation.post_url == "https://www.facebook.com/acme/posts/900000000000001"
    texts = [(m.direction, m.text) for m in rows(app, Message)]
    assert texts == [
        ("in", "Is the shop open on Sunday?"),
        ("in", "Also on holidays?"),
        ("out", "Yes, 10 to 4!"),
    ]
    [contact] = rows(app, Contact)
    assert contact.name == "Dan Díaz"


def test_a_reply_before_its_comment_joins_the_same_thread(app: Flask, connected: Channel) -> None:
    deliver(app, "feed/comment_reply.json")
    deliver(app, "feed/comment_add.json")
    process(app)
    assert len(rows(app, Conversation)) == 1
    assert len(rows(app, Message)) == 2


def test_a_comment_without_post_details(app: Flask, connected: Channel) -> None:
    deliver(app, "feed/comment_add_without_post.json")
    process(app)
    [conversation] = rows(app, Conversation)
    assert conversation.post_url == "https://www.facebook.com/200000000000001_900000000000001"


def test_edit_hide_unhide_and_remove_keep_the_record(app: Flask, connected: Channel) -> None:
    for name in ("comment_add", "comment_edited", "comment_hide"):
        deliver(app, f"feed/{name}.json")
    process(app)
    original = message(app, "900000000000001_100000000000001")
    assert original.text == "Is the shop open on Sunday morning?"
    assert original.previous_texts == ["Is the shop open on Sunday?"]
    assert original.hidden is True
    for name in ("comment_unhide", "comment_remove"):
        deliver(app, f"feed/{name}.json")
    process(app)
    removed = message(app, "900000000000001_100000000000001")
    assert removed.hidden is False
    assert removed.deleted_at is not None
    assert removed.text == "Is the shop open on Sunday morning?"  # kept for the record
    notes = [m.text for m in rows(app, Message, Message.system.is_(True))]
    assert notes == [
        "A comment was hidden on Facebook.",
        "A comment was unhidden.",
        "A comment was deleted on Facebook.",
    ]


# --- Routing --------------------------------------------------------------------------------


@pytest.mark.parametrize(("messenger_to_chat", "comments_to_chat"), [(True, False), (False, True)])
def test_new_conversations_follow_the_routing(
    app: Flask, connected: Channel, messenger_to_chat: bool, comments_to_chat: bool
) -> None:
    with app.app_context():
        chat = ChatChannel(name="Support chat")
        db.session.add(chat)
        db.session.flush()
        channel = db.session.get(Channel, connected.id)
        channel.messenger_chat_id = chat.id if messenger_to_chat else None
        channel.comments_chat_id = chat.id if comments_to_chat else None
        db.session.commit()
    deliver(app, "messenger/text.json")
    deliver(app, "feed/comment_add.json")
    process(app)
    modes = {c.source: (c.mode, c.chat_channel_id is not None) for c in rows(app, Conversation)}
    assert modes["messenger"] == (("chat", True) if messenger_to_chat else ("ticket", False))
    assert modes["comment"] == (("chat", True) if comments_to_chat else ("ticket", False))


def test_the_inbox_lists_every_conversation(
    app: Flask, connected: Channel, agent_web: WebClient
) -> None:
    deliver(app, "messenger/text.json")
    deliver(app, "feed/comment_add.json")
    process(app)
    inbox = agent_web.get("/inbox").text
    assert "Cora Customer" in inbox
    assert "Dan Díaz" in inbox
    assert "Is the shop open on Sunday?" in inbox
    assert "Acme Support" in inbox


# --- Claiming and the log --------------------------------------------------------------------


def test_two_processes_never_take_the_same_event(
    app: Flask, app_factory: Callable[..., Flask]
) -> None:
    deliver(app, "messenger/batch.json")
    unpack(app)
    other = app_factory()
    with app.app_context():
        first = inbound.claim(db.session, limit=2)
    with other.app_context():
        second = inbound.claim(db.session, limit=2)
        nothing_left = inbound.claim(db.session, limit=2)
        later = inbound.claim(
            db.session, limit=5, now=utcnow() + inbound.LEASE + timedelta(seconds=1)
        )
    assert len(first) == 2
    assert len(second) == 1
    assert not set(first) & set(second)
    assert nothing_left == []
    assert sorted(later) == sorted(first + second)  # a dead worker's lease runs out


def test_claimed_events_given_back_are_anyones_again(
    app: Flask, app_factory: Callable[..., Flask]
) -> None:
    deliver(app, "messenger/batch.json")
    unpack(app)
    with app.app_context():
        first, *rest = inbound.claim(db.session, limit=3)
        inbound.release(db.session, rest)
    with app_factory().app_context():
        assert inbound.claim(db.session, limit=3) == rest  # at once, not after the lease
    assert [e.tries for e in rows(app, WebhookEvent)] == [1, 1, 1]


def test_two_processes_never_unpack_the_same_delivery(
    app: Flask, app_factory: Callable[..., Flask]
) -> None:
    for n in range(40):
        deliver(app, body("messenger/batch.json").replace(b"m_batch_", f"m_{n}_".encode()))
    apps = [app, app_factory()]

    def unpack_all(worker: int) -> int:
        with apps[worker % 2].app_context():
            done = 0
            while count := inbound.unpack(db.session, limit=3):
                done += count
            return done

    with ThreadPoolExecutor(max_workers=4) as pool:
        unpacked = list(pool.map(unpack_all, range(4)))
    assert sum(unpacked) >= 40  # one may read a delivery another then stores first
    events = rows(app, WebhookEvent)
    assert len(events) == 120
    assert len({(e.delivery_id, e.position) for e in events}) == 120
    assert {d.event_count for d in rows(app, WebhookDelivery)} == {3}


def test_the_worker_goes_through_a_backlog_without_waiting_for_the_sweep(
    app: Flask, connected: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbound, "DRAIN_LIMIT", 2)  # events per pass
    for n in range(3):
        deliver(app, body("messenger/batch.json").replace(b"m_batch_", f"m_{n}_".encode()))
    worker = WebhookWorker(app, sweep_seconds=600)
    worker.wake()
    try:
        deadline = time.monotonic() + 30
        while len(rows(app, Message)) < 9 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(rows(app, Message)) == 9  # five passes, on one wake
    assert {e.status for e in rows(app, WebhookEvent)} == {EventStatus.DONE}


def test_the_webhook_log_filters_shows_the_raw_body_and_reruns(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    deliver(app, "messenger/text.json")
    deliver(app, "messenger/optin.json")
    process(app)
    everything = admin_web.get("/webhooks/log").text
    assert "Customer message in conversation" in everything
    ignored = admin_web.get("/webhooks/log?status=ignored", htmx=True).text
    assert "opt-in" in ignored
    assert "Customer message" not in ignored
    assert "<html" not in ignored
    [first, _] = rows(app, WebhookDelivery)
    raw = admin_web.get(f"/webhooks/log/deliveries/{first.id}").text
    assert "&#34;mid&#34;: &#34;m_text_1&#34;" in raw  # pretty-printed and escaped
    assert "Grüße" in raw
    [event, _] = rows(app, WebhookEvent)
    admin_web.post(f"/webhooks/log/events/{event.id}/rerun")
    assert rows(app, WebhookEvent, WebhookEvent.id == event.id)[0].status is EventStatus.PENDING
    process(app)
    assert (
        rows(app, WebhookEvent, WebhookEvent.id == event.id)[0].outcome
        == "Already recorded (a repeated delivery)"
    )
    with app.app_context():
        assert db.session.scalar(select(func.count(Message.id))) == 1


def test_agents_cannot_see_the_webhook_log(agent_web: WebClient) -> None:
    assert agent_web.get("/webhooks/log").status_code == 403
    assert agent_web.get("/webhooks/log/deliveries/1").status_code == 403
    assert agent_web.post("/webhooks/log/events/1/rerun").status_code == 403


def test_a_delivery_waits_its_turn_while_another_process_writes(app: Flask) -> None:
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite's single writer")
        path = db.engine.url.database
    # Another process, mid-transaction: it holds SQLite's lock for 0.3 s more.
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.3, other.commit).start()
    try:
        assert deliver(app, "messenger/text.json").status_code == 200  # retried, not refused
    finally:
        other.close()
    [delivery] = rows(app, WebhookDelivery)
    assert delivery.body == body("messenger/text.json")
    with app.app_context(), db.engine.connect() as connection:  # the pool keeps SQLite's wait
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10000


def test_concurrent_deliveries_are_each_stored_once(app: Flask, live_server: str) -> None:
    """Many POSTs at once share commits (group commit); each is answered after its own."""
    template = body("messenger/text.json")
    bodies = [template.replace(b"m_text_1", f"m_many_{n}".encode()) for n in range(40)]
    secret = app.config["FACEBOOK_APP_SECRET"]

    def post(raw: bytes) -> int:
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, secret)}
        return httpx.post(
            f"{live_server}/webhooks/facebook", content=raw, headers=headers
        ).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(post, bodies))
    assert statuses == [200] * 40
    stored = sorted(d.body for d in rows(app, WebhookDelivery))
    assert stored == sorted(bodies)
    assert unpack(app) == 20  # (at most 20 a turn)
    assert unpack(app) == 20
    assert len(rows(app, WebhookEvent)) == 40


def _claim_as(app: Flask, owner: str) -> None:
    """Unpack and claim every event, then say they were claimed by ``owner``."""
    unpack(app)
    with app.app_context():
        assert inbound.claim(db.session)
        db.session.execute(update(WebhookEvent).values(lease_owner=owner))
        db.session.commit()


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_killed_processs_claims_are_taken_back_at_once(app: Flask, connected: Channel) -> None:
    deliver(app, "messenger/text.json")
    _claim_as(app, f"{socket.gethostname()}:{_dead_pid()}")
    process(app)
    assert rows(app, Message) == []  # its lease still runs: nothing to take
    with app.app_context():
        assert inbound.reclaim_orphans(db.session) == 1
    process(app)
    assert message(app, "m_text_1").text == "Hello, is my order on its way? Grüße"
    [event] = rows(app, WebhookEvent)
    assert (event.status, event.lease_owner) == (EventStatus.DONE, None)


@pytest.mark.parametrize("owner", ["elsewhere.example:12345", f"{socket.gethostname()}:1", "x"])
def test_claims_of_a_live_or_distant_process_wait_for_their_lease(
    app: Flask, connected: Channel, owner: str
) -> None:
    deliver(app, "messenger/text.json")
    _claim_as(app, owner)
    with app.app_context():
        assert inbound.reclaim_orphans(db.session) == 0
    process(app)
    assert rows(app, Message) == []
    process(app, later=inbound.LEASE.total_seconds() + 1)
    assert len(rows(app, Message)) == 1
