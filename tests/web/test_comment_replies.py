"""Answering wall comments: public replies, one private reply, hide, unhide and delete."""

from __future__ import annotations

import re

from flask import Flask

from tests.helpers import WebClient
from tests.web.test_replies import outbound, settle_webhooks
from tests.web.test_simulator import wait_for
from tests.web.test_webhooks import CORA, process, rows
from webapp.models import Channel, Conversation, Message, OutboundStatus, Route


def customer_comments(app: Flask, web: WebClient, channel: Channel, days_ago: float = 0) -> int:
    """Cora comments on the page's post (``days_ago`` on both clocks); the conversation's id."""
    sandbox = app.extensions["facebook_sandbox"]
    courier = app.extensions["facebook_sandbox_courier"]
    before = len(courier.history)
    sandbox.advance_clock(-days_ago * 86400)
    web.post(
        "/sandbox/facebook/simulator",
        {"page_id": channel.page_id, "customer": CORA, "action": "comment", "text": "Open Sunday?"},
    )
    sandbox.advance_clock(days_ago * 86400)
    wait_for(courier, before + 1)
    process(app)
    [conversation] = rows(app, Conversation)
    return conversation.id


def the_comment(app: Flask) -> Message:
    [comment] = [m for m in rows(app, Message) if m.direction == "in"]
    return comment


def test_a_public_reply_joins_the_thread_once(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    conversation_id = customer_comments(app, admin_web, connected)
    response = admin_web.post(
        f"/inbox/{conversation_id}/reply", {"text": "Yes, 10 to 4!"}, htmx=True
    )
    assert response.status_code == 200
    sandbox = app.extensions["facebook_sandbox"]
    [thread] = sandbox.comments_of(connected.page_id, CORA)
    assert [r["message"] for r in thread["replies"]] == ["Yes, 10 to 4!"]
    settle_webhooks(app, 2)  # the feed "add" from the page itself
    [ours] = outbound(app)  # matched, not recorded a second time
    assert ours.route is Route.COMMENT_REPLY
    assert ours.status is OutboundStatus.SENT
    assert ours.target_comment_id == the_comment(app).facebook_id


def test_one_private_reply_per_comment(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    conversation_id = customer_comments(app, admin_web, connected)
    comment = the_comment(app)
    card = admin_web.get(f"/inbox/{conversation_id}").text
    assert "Reply privately" in card
    key = re.search(r'name="client_key" value="([^"]+)"', card.split("Reply privately")[1])
    url = f"/inbox/comments/{comment.id}/private-reply"
    admin_web.post(url, {"text": "I'll message you the hours", "client_key": key.group(1)})
    sandbox = app.extensions["facebook_sandbox"]
    [sent] = sandbox.received(connected.page_id, CORA)
    assert sent["text"] == "I'll message you the hours"
    [ours] = outbound(app)
    assert (ours.route, ours.status) == (Route.PRIVATE_REPLY, OutboundStatus.SENT)
    assert the_comment(app).privately_replied_at is not None
    assert "Reply privately" not in admin_web.get(f"/inbox/{conversation_id}").text
    again = admin_web.post(url, {"text": "And again"}, htmx=True)
    assert again.status_code == 422
    assert "already has its private reply" in again.text
    assert len(sandbox.received(connected.page_id, CORA)) == 1


def test_no_private_reply_after_seven_days(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    conversation_id = customer_comments(app, admin_web, connected, days_ago=8)
    assert "Reply privately" not in admin_web.get(f"/inbox/{conversation_id}").text
    comment = the_comment(app)
    refused = admin_web.post(
        f"/inbox/comments/{comment.id}/private-reply", {"text": "Late"}, htmx=True
    )
    assert refused.status_code == 422
    assert "within 7 days" in refused.text
    assert outbound(app) == []


def test_hide_unhide_and_delete_are_done_on_facebook_and_recorded_once(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    conversation_id = customer_comments(app, admin_web, connected)
    comment = the_comment(app)
    sandbox = app.extensions["facebook_sandbox"]
    admin_web.post(f"/inbox/comments/{comment.id}/hide", htmx=True)
    assert sandbox.comment(comment.facebook_id)["hidden"] is True
    assert the_comment(app).hidden is True
    admin_web.post(f"/inbox/comments/{comment.id}/unhide", htmx=True)
    assert sandbox.comment(comment.facebook_id)["hidden"] is False
    admin_web.post(f"/inbox/comments/{comment.id}/delete", htmx=True)
    assert sandbox.comment(comment.facebook_id)["deleted"] is True
    settle_webhooks(app, 4)  # Facebook's hide, unhide and remove webhooks follow
    kept = the_comment(app)
    assert kept.deleted_at is not None
    assert kept.text == "Open Sunday?"  # kept for the record
    lines = [m.text for m in rows(app, Message) if m.system]
    assert lines == [
        "Ada Admin hid the comment on Facebook.",
        "Ada Admin unhid the comment on Facebook.",
        "Ada Admin deleted the comment on Facebook.",
    ]
    card = admin_web.get(f"/inbox/{conversation_id}").text
    assert "Deleted on Facebook" in card
