"""Agents answer sandbox customers from the inbox, in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.test_flows import sign_in
from tests.facebook import ACME_SUPPORT, connect_pages
from tests.helpers import Credentials, WebClient
from tests.web.test_webhooks import CORA, rows
from webapp.models import Channel
from webapp.worker import WebhookWorker

SLOW = 15_000  # webhooks travel from the sandbox's queue, then the worker's sweep


@pytest.fixture
def acme(app: Flask, live_server: str, admin_web: WebClient) -> Iterator[Channel]:
    """Acme Support connected, with the webhook worker running as in production."""
    app.config["BASE_URL"] = live_server
    worker = app.extensions["webhook_worker"] = WebhookWorker(app, sweep_seconds=0.3)
    connect_pages(admin_web, ACME_SUPPORT)
    [channel] = rows(app, Channel)
    yield channel
    worker.stop()


def simulate(page: Page, action: str, text: str = "") -> None:
    """Act as Cora in the customer simulator."""
    page.goto(f"/sandbox/facebook/simulator?page={ACME_SUPPORT}&customer={CORA}")
    if text:
        page.get_by_label("Text").fill(text)
    page.get_by_role("button", name=action, exact=True).click()
    expect(page.get_by_text("Cora Customer").first).to_be_visible()


def open_ticket(page: Page, text: str) -> None:
    page.goto("/inbox")
    expect(page.get_by_text(text)).to_be_visible(timeout=SLOW)  # arrives by polling
    page.get_by_role("link", name="Cora Customer").click()
    expect(page.locator("#thread").get_by_text(text)).to_be_visible()


def test_an_agent_replies_and_sees_it_read(
    page: Page, acme: Channel, admin: Credentials, agent: Credentials
) -> None:
    sign_in(page, admin)
    simulate(page, "Send message", "Where is my parcel?")
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, agent)
    open_ticket(page, "Where is my parcel?")
    expect(page.get_by_text(re.compile(r"Reply window: \d+ h"))).to_be_visible()
    page.get_by_label("Reply to Cora Customer").fill("It left today <3")
    page.get_by_role("button", name="Send").click()
    reply = page.locator("#thread li", has_text="It left today <3")
    expect(reply.get_by_text(re.compile("Sent|Delivered"))).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, admin)
    page.goto(f"/sandbox/facebook/simulator?page={ACME_SUPPORT}&customer={CORA}")
    expect(page.locator(".received").get_by_text("It left today <3")).to_be_visible()
    page.get_by_role("button", name="Open Messenger as Cora Customer").click()
    page.goto("/inbox")
    page.get_by_role("link", name="Cora Customer").click()
    reply = page.locator("#thread li", has_text="It left today <3")
    expect(reply.get_by_text("Read")).to_be_visible(timeout=SLOW)


def test_a_comment_gets_a_public_and_a_private_reply(
    page: Page, acme: Channel, admin: Credentials
) -> None:
    sign_in(page, admin)
    simulate(page, "Post a comment", "Open on Sunday?")
    open_ticket(page, "Open on Sunday?")
    page.get_by_label("Public reply in the comment thread").fill("Yes, 10 to 4.")
    page.get_by_role("button", name="Reply publicly").click()
    expect(page.locator("#thread li", has_text="Yes, 10 to 4.").get_by_text("Sent")).to_be_visible()
    page.get_by_text("Reply privately").click()
    page.get_by_label(re.compile("A Messenger message to Cora")).fill("Here are the hours.")
    page.get_by_role("button", name="Send privately").click()
    private = page.locator("#thread li", has_text="Here are the hours.")
    expect(private.get_by_text("Private reply on Messenger")).to_be_visible()
    expect(private.get_by_text("Sent")).to_be_visible()
    expect(page.get_by_text("Reply privately")).to_have_count(0)  # once per comment

    page.goto(f"/sandbox/facebook/simulator?page={ACME_SUPPORT}&customer={CORA}")
    expect(page.get_by_text("Yes, 10 to 4.")).to_be_visible()
    expect(page.get_by_text("Here are the hours.")).to_be_visible()


def test_outside_the_window_only_a_confirmed_subscription_message_goes(
    app: Flask, page: Page, acme: Channel, admin: Credentials
) -> None:
    sandbox = app.extensions["facebook_sandbox"]
    sign_in(page, admin)
    sandbox.advance_clock(-3 * 86400)  # Cora wrote three days ago
    simulate(page, "Send message", "Tell me when you reopen")
    sandbox.advance_clock(3 * 86400)
    sandbox.set_page_feature(acme.page_id, npi=True)
    open_ticket(page, "Tell me when you reopen")
    expect(page.locator("#window-state")).to_have_text(re.compile("Window closed 2 days ago"))
    expect(page.get_by_text("You can't reply right now.")).to_be_visible()

    page.goto(f"/channels/{acme.id}/settings")
    page.get_by_label("Subscription messages").check()
    page.get_by_label("What Facebook approved this page for").fill("Local news")
    page.get_by_role("button", name=re.compile("Save")).last.click()
    page.goto("/inbox")
    page.get_by_role("link", name="Cora Customer").click()
    expect(page.get_by_label("Standard reply")).to_be_disabled()
    page.get_by_label("Subscription message").check()
    page.get_by_label("Reply to Cora Customer").fill("We reopen Monday, with a 20% off sale")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text(re.compile("may be promotional"))).to_be_visible()
    page.get_by_label("Reply to Cora Customer").fill("We reopen on Monday at nine.")
    page.get_by_label("Subscription message").check()
    page.get_by_label(re.compile("I confirm this message has no promotional")).check()
    page.get_by_role("button", name="Send").click()
    sent = page.locator("#thread li", has_text="We reopen on Monday at nine.")
    expect(sent.get_by_text("Subscription message")).to_be_visible()
    expect(sent.get_by_text(re.compile("Sent|Delivered"))).to_be_visible()
    [received] = sandbox.received(acme.page_id, CORA)
    assert received["messaging_type"] == "NON_PROMOTIONAL_SUBSCRIPTION"


def test_a_chat_shows_new_messages_without_a_reload(
    app: Flask, page: Page, acme: Channel, admin: Credentials, admin_web: WebClient
) -> None:
    admin_web.post("/channels/chats", {"name": "Support chat"})
    [chat_id] = re.findall(r"/chats/(\d+)", admin_web.get("/inbox").text)
    settings = admin_web.get(f"/channels/{acme.id}/settings").text
    assert "Support chat" in settings
    admin_web.post(
        f"/channels/{acme.id}/settings", {"messenger_chat_id": chat_id, "comments_chat_id": ""}
    )
    sign_in(page, admin)
    simulate(page, "Send message", "Hi, anyone there?")
    page.goto(f"/chats/{chat_id}")
    page.get_by_role("link", name=re.compile("Cora Customer")).click(timeout=SLOW)
    expect(page.locator("#thread").get_by_text("Hi, anyone there?")).to_be_visible()

    other = page.context.new_page()  # the customer writes again in another tab
    simulate(other, "Send message", "Hello??")
    other.close()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    expect(page.locator("#thread").get_by_text("Hello??")).to_be_visible(timeout=SLOW)
    box = page.get_by_label("Reply to Cora Customer")
    box.fill("Yes! How can I help?")
    box.press("Enter")
    expect(page.locator("#thread").get_by_text("Yes! How can I help?")).to_be_visible()
    assert navigations == []  # polled and sent in place, no reload
