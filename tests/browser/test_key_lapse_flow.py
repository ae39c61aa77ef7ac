"""An admin sees a page's key about to lapse, then lost, and reconnects it, in Chromium."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.test_flows import sign_in
from tests.facebook import ACME_SUPPORT, connect_pages
from tests.helpers import Credentials, WebClient


def run_check_tokens(page: Page, expected: str) -> None:
    page.goto("/jobs")
    row = page.locator("#job-check-tokens")
    row.get_by_role("button", name="Run check-tokens now").click()
    expect(row.get_by_text(re.compile(expected))).to_be_visible()
    expect(row.get_by_text("Running…")).to_have_count(0)


def test_an_expiring_then_lost_key_is_shown_and_reconnected(
    app: Flask, live_server: str, page: Page, admin: Credentials, admin_web: WebClient
) -> None:
    app.config["BASE_URL"] = live_server
    connect_pages(admin_web, ACME_SUPPORT)
    sign_in(page, admin)

    lapse = datetime.now(UTC).date() + timedelta(days=5)
    page.goto("/sandbox/facebook/")
    mia = page.locator("tr", has_text="Mia Manager")
    mia.get_by_label("Data access lapses on").fill(lapse.isoformat())
    mia.locator("form", has=page.get_by_label("Data access lapses on")).get_by_role(
        "button", name="Set"
    ).click()
    expect(page.get_by_text("The sandbox's Facebook changed.")).to_be_visible()
    run_check_tokens(page, "Acme Support: OK, key lapses")

    page.get_by_role("link", name="Channels", exact=True).first.click()
    row = page.locator("tr", has_text="Acme Support")
    expect(row.get_by_text("Expiring soon")).to_be_visible()
    expect(row.get_by_text(f"Its access key lapses on {lapse:%-d %B %Y}")).to_be_visible()

    page.goto("/sandbox/facebook/")
    page.locator("tr", has_text="Mia Manager").get_by_role(
        "button", name="Invalidate their tokens"
    ).click()
    expect(page.get_by_text("The sandbox's Facebook changed.")).to_be_visible()
    run_check_tokens(page, "Acme Support: expired")

    page.goto("/channels")
    row = page.locator("tr", has_text="Acme Support")
    expect(row.get_by_text("Expired", exact=True)).to_be_visible()
    expect(row.get_by_text("Facebook no longer accepts this page's access key.")).to_be_visible()
    row.get_by_role("link", name="Reconnect").click()

    expect(page.get_by_role("heading", name="Log in to Pagedesk")).to_be_visible()
    page.get_by_label("Mia Manager").check()
    page.get_by_role("button", name="Allow").click()
    expect(page.get_by_role("heading", name="Choose the pages to connect")).to_be_visible()
    page.get_by_label(re.compile("Acme Support")).check()
    page.get_by_role("button", name="Confirm and connect").click()
    expect(page.get_by_text("Acme Support: connected.")).to_be_visible()
    page.get_by_role("link", name="Go to Channels").click()
    row = page.locator("tr", has_text="Acme Support")
    expect(row.get_by_text("Active")).to_be_visible()
    expect(row.get_by_text("in 89 days")).to_be_visible()
