"""Replying from the inbox to the sandbox's Facebook, and every way it can go wrong."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from flask import Flask

from tests.helpers import WebClient, well_inside_a_minute
from tests.web.test_simulator import wait_for
from tests.web.test_webhooks import CORA, deliver, process, rows
from webapp.extensions import db
from webapp.helpdesk import outbox
from webapp.integrations import facebook_kit
from webapp.models import Channel, ChannelStatus, Conversation, Message, OutboundStatus, utcnow


def customer_writes(app: Flask, web: WebClient, channel: Channel, text: str = "Hi!") -> int:
    """Cora writes through the simulator; the webhook is delivered and processed."""
    courier = app.extensions["facebook_sandbox_courier"]
    before = len(courier.history)
    web.post(
        "/sandbox/facebook/simulator",
        {"page_id": channel.page_id, "customer": CORA, "action": "text", "text": text},
    )
    wait_for(courier, before + 1)
    process(app)
    [conversation] = rows(app, Conversation)
    return conversation.id


def settle_webhooks(app: Flask, count: int) -> None:
    """Wait for the sandbox's webhooks after a send (echo, delivery...), then process them."""
    wait_for(app.extensions["facebook_sandbox_courier"], count)
    process(app)


def composer_key(web: WebClient, conversation_id: int) -> str:
    page = web.get(f"/inbox/{conversation_id}").text
    found = re.search(r'name="client_key"[^>]*value="([^"]+)"', page)
    return found.group(1) if found else ""


def reply(web: WebClient, conversation_id: int, text: str, **fields: str):  # noqa: ANN201
    data = {"text": text, "kind": "standard", "client_key": composer_key(web, conversation_id)}
    return web.post(f"/inbox/{conversation_id}/reply", {**data, **fields}, htmx=True)


def outbound(app: Flask) -> list[Message]:
    return [m for m in rows(app, Message) if m.direction == "out"]


@pytest.fixture
def sandbox(app: Flask):  # noqa: ANN201
    return app.extensions["facebook_sandbox"]


def test_a_reply_reaches_the_customer_then_is_delivered_and_read(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    conversation_id = customer_writes(app, admin_web, connected)
    response = reply(admin_web, conversation_id, "Your parcel left today 📦")
    assert response.status_code == 200, response.text
    [sent] = sandbox.received(connected.page_id, CORA)
    assert sent["text"] == "Your parcel left today 📦"
    [message] = outbound(app)
    assert message.status is OutboundStatus.SENT
    assert message.facebook_id
    settle_webhooks(app, 2)  # the customer's message; the echo and delivery in one POST
    [message] = outbound(app)  # the echo matched our reply: no second message
    assert message.status is OutboundStatus.DELIVERED
    admin_web.post(
        "/sandbox/facebook/simulator",
        {"page_id": connected.page_id, "customer": CORA, "action": "open"},
    )
    settle_webhooks(app, 3)
    assert outbound(app)[0].status is OutboundStatus.READ
    assert "Read" in admin_web.get(f"/inbox/{conversation_id}").text


def test_a_reply_shows_in_a_card_another_agent_has_open(
    app: Flask, connected: Channel, admin_web: WebClient, agent_web: WebClient
) -> None:
    conversation_id = customer_writes(app, admin_web, connected)
    well_inside_a_minute()
    card = agent_web.get(f"/inbox/{conversation_id}").text
    poll = re.search(r'id="thread"[^>]*?hx-get="([^"]+)"', card, re.S)
    assert poll
    poll_url = poll.group(1).replace("&amp;", "&")
    assert agent_web.get(poll_url, htmx=True).status_code == 204
    assert reply(admin_web, conversation_id, "It left the depot").status_code == 200
    changed = agent_web.get(poll_url, htmx=True)
    assert changed.status_code == 200
    assert "It left the depot" in changed.text


def test_a_double_submitted_composer_sends_once(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    conversation_id = customer_writes(app, admin_web, connected)
    key = composer_key(admin_web, conversation_id)
    data = {"text": "Once only", "kind": "standard", "client_key": key}
    admin_web.post(f"/inbox/{conversation_id}/reply", data, htmx=True)
    admin_web.post(f"/inbox/{conversation_id}/reply", data, htmx=True)
    assert len(sandbox.received(connected.page_id, CORA)) == 1
    assert len(outbound(app)) == 1


def queue_one(app: Flask, web: WebClient, channel: Channel, sandbox) -> int:
    """A reply stored but not sent yet: the page is briefly failing, so it waits."""
    conversation_id = customer_writes(app, web, channel)
    sandbox.fail_sends(channel.page_id, "transient", times=1)
    reply(web, conversation_id, "Racing")
    [message] = outbound(app)
    assert message.status is OutboundStatus.QUEUED
    assert "tries again" in message.failure
    return message.id


def test_two_senders_at_once_send_exactly_one_message(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    message_id = queue_one(app, admin_web, connected, sandbox)
    later = utcnow() + timedelta(hours=1)
    start = threading.Barrier(3)
    results: list[bool] = []

    def send(use_job: bool) -> None:
        with app.app_context():
            kit = facebook_kit(app)
            start.wait()
            try:
                if use_job:  # the retry-outbox job overlapping an agent's Retry
                    results.append(outbox.deliver_due(db.session, kit=kit, now=later) > 0)
                else:
                    results.append(outbox.deliver(db.session, message_id, kit=kit, now=later))
            finally:
                kit.close()
                db.session.remove()

    threads = [threading.Thread(target=send, args=(flag,)) for flag in (False, False, True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == [False, False, True]
    assert len(sandbox.received(connected.page_id, CORA)) == 1
    assert outbound(app)[0].status is OutboundStatus.SENT


def test_a_transient_failure_is_retried_by_the_job(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    queue_one(app, admin_web, connected, sandbox)
    with app.app_context():
        kit = facebook_kit(app)
        assert outbox.deliver_due(db.session, kit=kit) == 0  # not due yet: backoff
        assert outbox.deliver_due(db.session, kit=kit, now=utcnow() + timedelta(minutes=5)) == 1
        kit.close()
    assert outbound(app)[0].status is OutboundStatus.SENT
    assert len(sandbox.received(connected.page_id, CORA)) == 1


@pytest.mark.parametrize("mode", ["timeout", "ambiguous"])
def test_a_lost_answer_is_settled_by_the_echo_and_never_resent(app_factory, mode: str) -> None:
    app = app_factory(FACEBOOK_HTTP_TIMEOUT=0.5)
    _check_lost_answer(app, mode)


def _check_lost_answer(app: Flask, mode: str) -> None:
    from werkzeug.serving import make_server

    from tests.facebook import ACME_SUPPORT, connect_pages
    from tests.helpers import make_user
    from webapp.models import Role

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
        web = WebClient(app.test_client())
        web.login(make_user(app, "ada@example.com", Role.ADMIN, name="Ada Admin"))
        connect_pages(web, ACME_SUPPORT)
        [channel] = rows(app, Channel)
        sandbox = app.extensions["facebook_sandbox"]
        conversation_id = customer_writes(app, web, channel)
        sandbox.fail_sends(channel.page_id, mode, times=1, sleep=2)
        reply(web, conversation_id, "Did this go?")
        [message] = outbound(app)
        assert message.status is OutboundStatus.UNCONFIRMED
        assert "may have been sent" in message.failure
        with app.app_context():  # before the echo, and after the wait: nothing resent
            kit = facebook_kit(app)
            outbox.deliver_due(db.session, kit=kit)
            kit.close()
        settle_webhooks(app, 2)
        [message] = outbound(app)
        assert message.status in (OutboundStatus.SENT, OutboundStatus.DELIVERED)
        with app.app_context():
            kit = facebook_kit(app)
            assert outbox.deliver_due(db.session, kit=kit, now=utcnow() + timedelta(hours=1)) == 0
            kit.close()
        assert len(sandbox.received(channel.page_id, CORA)) == 1
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def test_a_permanent_refusal_fails_with_a_reason_and_can_be_retried(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    conversation_id = customer_writes(app, admin_web, connected)
    sandbox.set_blocked(connected.page_id, CORA)
    reply(admin_web, conversation_id, "Hello?")
    [message] = outbound(app)
    assert message.status is OutboundStatus.FAILED
    assert "isn't available" in message.failure
    assert message.failure_code.startswith("551")
    card = admin_web.get(f"/inbox/{conversation_id}").text
    assert "Not sent" in card
    assert "Retry" in card
    sandbox.set_blocked(connected.page_id, CORA, blocked=False)
    admin_web.post(f"/inbox/messages/{message.id}/retry", htmx=True)
    assert outbound(app)[0].status is OutboundStatus.SENT


def test_facebooks_window_refusal_is_shown_as_what_it_means(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    conversation_id = customer_writes(app, admin_web, connected)
    sandbox.advance_clock(25 * 3600)  # Facebook's clock says the window has closed
    reply(admin_web, conversation_id, "Late")
    [message] = outbound(app)
    assert message.status is OutboundStatus.FAILED
    assert "24-hour" in message.failure
    assert message.failure_code == "10/2018278"


def test_a_dead_token_holds_the_reply_and_marks_the_channel(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    conversation_id = customer_writes(app, admin_web, connected)
    sandbox.fail_sends(connected.page_id, "dead_token", times=1)
    reply(admin_web, conversation_id, "Are you there?")
    [message] = outbound(app)
    assert message.status is OutboundStatus.HELD
    [channel] = rows(app, Channel)
    assert channel.status in (ChannelStatus.ACCESS_LOST, ChannelStatus.EXPIRED)
    card = admin_web.get(f"/inbox/{conversation_id}").text
    assert "can't send right now" in card
    assert "Held" in card
    reply(admin_web, conversation_id, "Second try")  # also held, never dropped
    assert [m.status for m in outbound(app)] == [OutboundStatus.HELD, OutboundStatus.HELD]
    assert sandbox.received(connected.page_id, CORA) == []


def test_the_composer_refuses_outside_the_window_and_offers_splitting(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    deliver(app, "messenger/text.json")  # written in September: the window closed long ago
    process(app)
    [conversation] = rows(app, Conversation)
    card = admin_web.get(f"/inbox/{conversation.id}").text
    assert "You can't reply right now." in card
    assert "Window closed" in card
    refused = reply(admin_web, conversation.id, "Hello again")
    assert refused.status_code == 422
    assert outbound(app) == []


def test_a_long_reply_is_split_when_the_agent_agrees(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    conversation_id = customer_writes(app, admin_web, connected)
    long_text = ("All good here. " * 200).strip()
    refused = reply(admin_web, conversation_id, long_text)
    assert refused.status_code == 422
    assert "Send it as 2 messages?" in refused.text
    reply(admin_web, conversation_id, long_text, split="y")
    received = sandbox.received(connected.page_id, CORA)
    assert len(received) == 2
    assert all(len(m["text"]) < 2000 for m in received)
    assert " ".join(m["text"] for m in received) == long_text


def test_an_image_goes_out_by_upload(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    import io

    conversation_id = customer_writes(app, admin_web, connected)
    key = composer_key(admin_web, conversation_id)
    data = {
        "text": "", "kind": "standard", "client_key": key,
        "attachment": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * 100), "receipt.png", "image/png"),
    }  # fmt: skip
    response = admin_web.client.post(
        f"/inbox/{conversation_id}/reply", data=data,
        headers={"HX-Request": "true", "X-CSRFToken": admin_web.token},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 200, response.text
    [sent] = sandbox.received(connected.page_id, CORA)
    assert sent.get("attachments") or sent.get("attachment")
    [message] = outbound(app)
    assert message.status is OutboundStatus.SENT
    assert admin_web.get(f"/inbox/files/{message.attachments[0]['upload_id']}").status_code == 200


def settings(web: WebClient, channel: Channel, **fields: str) -> None:
    page = web.get(f"/channels/{channel.id}/settings").text
    terms = re.search(
        r'<textarea[^>]*name="promotional_terms"[^>]*>\s*(.*?)</textarea>', page, re.S
    )
    data = {"subscription_use": "", "promotional_terms": terms.group(1) if terms else "", **fields}
    assert web.post(f"/channels/{channel.id}/settings/messaging", data).status_code == 302


def customer_wrote_days_ago(app: Flask, web: WebClient, channel: Channel, days: float) -> int:
    """Cora wrote ``days`` ago, as both Facebook and Pagedesk see it."""
    sandbox = app.extensions["facebook_sandbox"]
    sandbox.advance_clock(-days * 86400)
    conversation_id = customer_writes(app, web, channel, "Any news on my refund?")
    sandbox.advance_clock(days * 86400)
    return conversation_id


def test_a_late_human_reply_goes_out_with_the_human_agent_tag(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    conversation_id = customer_wrote_days_ago(app, admin_web, connected, 2)
    card = admin_web.get(f"/inbox/{conversation_id}").text
    assert "You can't reply right now." in card  # Human Agent not turned on yet
    settings(admin_web, connected, human_agent_enabled="y")
    sandbox.set_page_feature(connected.page_id, human_agent=True)
    refused = reply(admin_web, conversation_id, "Sorry for the wait")
    assert refused.status_code == 422
    assert outbound(app) == []
    promo = reply(admin_web, conversation_id, "Sorry! Here is a coupon", kind="human_agent")
    assert promo.status_code == 422
    assert "“coupon”" in promo.text  # tags never carry promotion: the agent must confirm
    reply(admin_web, conversation_id, "Sorry for the wait", kind="human_agent")
    [sent] = sandbox.received(connected.page_id, CORA)
    assert (sent["messaging_type"], sent["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
    assert outbound(app)[0].kind == "human_agent"


def test_a_subscription_message_needs_the_agents_confirmation(
    app: Flask, connected: Channel, admin_web: WebClient, sandbox
) -> None:
    conversation_id = customer_wrote_days_ago(app, admin_web, connected, 10)
    settings(admin_web, connected, subscription_enabled="y", subscription_use="Breaking news")
    sandbox.set_page_feature(connected.page_id, npi=True)
    text = "Our big SALE starts today"
    refused = reply(admin_web, conversation_id, text, kind="subscription")
    assert refused.status_code == 422
    assert "sale" in refused.text.lower()
    assert "I confirm this message has no promotional" in refused.text
    assert sandbox.received(connected.page_id, CORA) == []
    reply(admin_web, conversation_id, "The road to the shop reopens Monday.", kind="subscription",
          confirmed="y")  # fmt: skip
    [sent] = sandbox.received(connected.page_id, CORA)
    assert sent["messaging_type"] == "NON_PROMOTIONAL_SUBSCRIPTION"
    customer_writes(app, admin_web, connected, "Thanks!")  # the conversation is standard again
    reply(admin_web, conversation_id, "You're welcome")
    assert sandbox.received(connected.page_id, CORA)[-1]["messaging_type"] == "RESPONSE"
