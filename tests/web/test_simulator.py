"""The sandbox's customer simulator and courier, end to end through the webhook."""

from __future__ import annotations

import time

from flask import Flask

from tests.helpers import WebClient
from tests.web.test_webhooks import CORA, process, rows
from webapp.blueprints.sandbox.courier import Courier
from webapp.models import Channel, Conversation, EventStatus, Message, WebhookDelivery, WebhookEvent

ACTIONS = [
    ("text", "Where is my parcel?"), ("image", ""), ("sticker", ""), ("button", ""),
    ("react", ""), ("edit", "Where is my parcel #7?"), ("comment", "Open on Sunday?"),
    ("reply", "And on holidays?"), ("edit-comment", "Open on Sunday morning?"),
]  # fmt: skip


def wait_for(courier: Courier, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(courier.history) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(courier.history) >= count


def test_every_action_out_of_order_and_redelivered(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    courier = app.extensions["facebook_sandbox_courier"]
    admin_web.post("/sandbox/facebook/simulator/deliveries/hold")
    for action, words in ACTIONS:
        response = admin_web.post(
            "/sandbox/facebook/simulator",
            {"page_id": connected.page_id, "customer": CORA, "action": action, "text": words},
        )
        assert response.status_code == 302
    assert courier.held == len(ACTIONS)
    admin_web.post("/sandbox/facebook/simulator/deliveries/release-reversed")
    wait_for(courier, len(ACTIONS))
    assert {sent.status for sent in courier.history} == {200}
    admin_web.post("/sandbox/facebook/simulator/deliveries/redeliver")
    wait_for(courier, len(ACTIONS) + 1)

    process(app)
    process(app, later=30)  # edits and reactions that came first, retried
    process(app, later=90)
    events = rows(app, WebhookEvent)
    assert len(rows(app, WebhookDelivery)) == len(ACTIONS) + 1
    assert {e.status for e in events} == {EventStatus.DONE}
    inbound = [m for m in rows(app, Message) if not m.system]
    assert len(inbound) == 6  # text, image, sticker, button, comment, reply: none twice
    text = next(m for m in inbound if m.facebook_id.startswith("m_") and m.previous_texts)
    assert (text.text, text.previous_texts) == ("Where is my parcel #7?", ["Where is my parcel?"])
    sticker = next(m for m in inbound if m.attachments and m.attachments[0]["type"] == "sticker")
    assert len(sticker.attachments) == 1  # both forms, shown once
    assert sticker.reactions == {CORA: "\u2764\ufe0f"}  # the last message when she reacted
    assert [c.source for c in rows(app, Conversation)] == ["comment", "messenger"] or len(
        rows(app, Conversation)
    ) == 2


def test_nothing_is_sent_for_a_page_the_app_is_not_installed_on(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    sandbox = app.extensions["facebook_sandbox"]
    with sandbox.state() as world:
        world["pages"][connected.page_id]["subscriptions"] = {}
    admin_web.post(
        "/sandbox/facebook/simulator",
        {"page_id": connected.page_id, "customer": CORA, "action": "text", "text": "hi"},
    )
    assert "Facebook sends nothing" in admin_web.get("/sandbox/facebook/simulator").text
    assert (
        app.extensions["facebook_sandbox_courier"].history
        == type(app.extensions["facebook_sandbox_courier"].history)()
    )


def test_agents_cannot_use_the_simulator(agent_web: WebClient) -> None:
    assert agent_web.get("/sandbox/facebook/simulator").status_code == 403
    assert agent_web.post("/sandbox/facebook/simulator", {"action": "text"}).status_code == 403
