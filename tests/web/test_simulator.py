"""The sandbox's customer simulator and courier, end to end through the webhook."""

from __future__ import annotations

import re
import time

import httpx
from flask import Flask

from tests.facebook import ACME_SUPPORT
from tests.helpers import WebClient
from tests.web.test_webhooks import CORA, process, rows
from webapp.blueprints.sandbox.courier import Courier
from webapp.facebook.graph import GraphClient
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


# --- What the customer received, and the sending knobs -------------------------------------


def page_token_of(app: Flask, page_id: str) -> str:
    """The page token Pagedesk got when it connected the page (read from the sandbox)."""
    sandbox = app.extensions["facebook_sandbox"]
    with sandbox.state() as world:
        return next(
            token for token, record in world["tokens"].items()
            if record["type"] == "PAGE" and record["page_id"] == page_id
        )  # fmt: skip


def sandbox_graph(app: Flask) -> GraphClient:
    return GraphClient(
        graph_url="http://pagedesk.test/sandbox/facebook/graph", version="v25.0",
        app_id=app.config["FACEBOOK_APP_ID"], app_secret=app.config["FACEBOOK_APP_SECRET"],
        transport=httpx.WSGITransport(app=app),
    )  # fmt: skip


def test_the_customer_sees_replies_and_opening_messenger_reads_them(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    sandbox, page = app.extensions["facebook_sandbox"], connected.page_id
    simulate = {"page_id": page, "customer": CORA}
    admin_web.post("/sandbox/facebook/simulator", {**simulate, "action": "text", "text": "Hi"})
    assert sandbox.last_action(page, CORA) is not None  # the window opened
    admin_web.post("/sandbox/facebook/simulator", {**simulate, "action": "comment", "text": "Q?"})
    [comment] = sandbox.comments_of(page, CORA)
    graph, token = sandbox_graph(app), page_token_of(app, page)
    graph.send_message(page, token, recipient={"id": CORA}, messaging_type="RESPONSE",
                       text="<b>Your parcel</b> left")  # fmt: skip
    graph.reply_to_comment(comment["id"], token, text="Answered <here>")
    graph.set_comment_hidden(comment["id"], token, hidden=True)
    graph.close()

    shown = admin_web.get(f"/sandbox/facebook/simulator?page={page}&customer={CORA}").text
    assert "&lt;b&gt;Your parcel&lt;/b&gt; left" in shown
    assert "RESPONSE" in shown
    assert "delivered" in shown
    assert "Answered &lt;here&gt;" in shown
    assert '<span class="badge">hidden</span>' in shown
    assert "Open Messenger as Cora Customer" in shown
    assert not re.search(r"<script>|\son\w+=", shown)  # strict CSP: nothing inline

    before = len(app.extensions["facebook_sandbox_courier"].history)
    opened = admin_web.post("/sandbox/facebook/simulator", {**simulate, "action": "open"})
    assert opened.status_code == 302
    assert [entry["read"] for entry in sandbox.received(page, CORA)] == [True]
    wait_for(app.extensions["facebook_sandbox_courier"], before + 1)  # the read receipt
    assert (
        "· read" in admin_web.get(f"/sandbox/facebook/simulator?page={page}&customer={CORA}").text
    )


def test_admins_turn_the_sending_knobs(app: Flask, admin_web: WebClient) -> None:
    sandbox = app.extensions["facebook_sandbox"]
    knob = "/sandbox/facebook/knobs/"
    page = {"page_id": ACME_SUPPORT}
    assert "Grant the Human Agent feature" in admin_web.get("/sandbox/facebook/").text
    admin_web.post(knob + "human-agent-on", page)
    admin_web.post(knob + "npi-on", page)
    assert sandbox.snapshot()["pages"][ACME_SUPPORT]["features"] == {
        "human_agent": True,
        "npi": True,
    }
    admin_web.post(knob + "npi-off", page)
    assert sandbox.snapshot()["pages"][ACME_SUPPORT]["features"]["npi"] is False

    admin_web.post(knob + "fail-sends", {**page, "mode": "timeout", "times": "2", "sleep": "0.5"})
    failure = sandbox.snapshot()["pages"][ACME_SUPPORT]["send_failure"]
    assert failure == {"mode": "timeout", "times": 2, "sleep": 0.5}
    shown = admin_web.get("/sandbox/facebook/").text
    assert "Next 2 send(s): timeout." in shown
    assert "Take the Human Agent feature" in shown
    assert admin_web.post(knob + "fail-sends", {**page, "mode": "gremlins"}).status_code == 400
    admin_web.post(knob + "fail-sends", {**page, "mode": "transient", "times": "0"})
    assert sandbox.snapshot()["pages"][ACME_SUPPORT]["send_failure"] is None

    blocked = admin_web.post(knob + "block-customer", {**page, "psid": CORA})
    assert "/sandbox/facebook/simulator" in blocked.headers["Location"]
    assert sandbox.blocked(ACME_SUPPORT, CORA)
    admin_web.post(knob + "unblock-customer", {**page, "psid": CORA})
    assert not sandbox.blocked(ACME_SUPPORT, CORA)
    assert admin_web.post(knob + "no-such-knob", page).status_code == 404


def test_agents_cannot_turn_the_sending_knobs(app: Flask, agent_web: WebClient) -> None:
    for action in ("fail-sends", "human-agent-on", "block-customer"):
        response = agent_web.post(
            f"/sandbox/facebook/knobs/{action}",
            {"page_id": ACME_SUPPORT, "psid": CORA, "mode": "transient"},
        )
        assert response.status_code == 403
    assert (
        app.extensions["facebook_sandbox"].snapshot()["pages"][ACME_SUPPORT].get("send_failure")
        is None
    )
    opened = agent_web.post(
        "/sandbox/facebook/simulator", {"page_id": ACME_SUPPORT, "customer": CORA, "action": "open"}
    )
    assert opened.status_code == 403
