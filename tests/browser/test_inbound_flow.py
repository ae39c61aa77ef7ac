"""A sandbox customer writes to a connected page; the message appears in Pagedesk."""

from __future__ import annotations

import time

from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.test_flows import sign_in
from tests.facebook import ACME_SUPPORT, connect_pages
from tests.helpers import Credentials, WebClient
from webapp.worker import WebhookWorker


def test_a_customer_message_arrives_in_the_inbox(
    app: Flask, live_server: str, page: Page, admin: Credentials, admin_web: WebClient
) -> None:
    app.config["BASE_URL"] = live_server
    worker = app.extensions["webhook_worker"] = WebhookWorker(app, sweep_seconds=0.5)
    connect_pages(admin_web, ACME_SUPPORT)
    sign_in(page, admin)
    page.goto("/sandbox/facebook/simulator")
    page.get_by_label("Customer").select_option(label="Cora Customer")
    page.get_by_label("Text").fill("Hi! Where is my parcel? ✈")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text("Cora Customer did it")).to_be_visible()

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        page.goto("/inbox")
        if page.get_by_text("Hi! Where is my parcel? ✈").count():
            break
        page.wait_for_timeout(300)
    row = page.locator("tr", has_text="Cora Customer")
    expect(row.get_by_text("Hi! Where is my parcel? ✈")).to_be_visible()
    expect(row.get_by_text("Acme Support")).to_be_visible()
    expect(row.get_by_text("Messenger")).to_be_visible()
    worker.stop()
