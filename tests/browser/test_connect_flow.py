"""An admin connects a Facebook page in Chromium, through the sandbox's Login dialog."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect

from tests.browser.test_flows import sign_in
from tests.helpers import Credentials


def test_admin_connects_a_page(
    app: Flask, live_server: str, page: Page, admin: Credentials
) -> None:
    app.config["BASE_URL"] = live_server
    sign_in(page, admin)
    page.get_by_role("navigation").get_by_role("link", name="Channels").click()
    page.get_by_role("link", name="Add channel").click()
    page.get_by_role("link", name="Facebook", exact=True).click()
    expect(page.get_by_text("full admin access", exact=True)).to_be_visible()
    page.get_by_role("link", name="Continue with Facebook").click()

    expect(page.get_by_role("heading", name="Log in to Pagedesk")).to_be_visible()
    expect(page.get_by_text("Manage and access Page conversations in Messenger")).to_be_visible()
    page.get_by_label("Mia Manager").check()
    page.get_by_role("button", name="Allow").click()

    expect(page.get_by_role("heading", name="Choose the pages to connect")).to_be_visible()
    choices = page.locator(".page-choice")
    expect(choices).to_have_count(3)
    expect(page.locator(".page-choice.ineligible")).to_have_count(2)
    expect(page.get_by_text("You can only moderate this page")).to_be_visible()
    expect(page.get_by_text("This page isn't published")).to_be_visible()
    expect(page.get_by_label(re.compile("Acme Community"))).to_be_disabled()

    page.get_by_label(re.compile("Acme Support")).check()
    expect(page.locator("#confirm-panel")).to_contain_text("Connect 1 page: Acme Support.")
    page.get_by_role("button", name="Confirm and connect").click()

    expect(page.get_by_role("heading", name="Connecting 1 page")).to_be_visible()
    expect(page.get_by_text("Acme Support: connected.")).to_be_visible()
    page.get_by_role("link", name="Go to Channels").click()
    expect(page).to_have_url(re.compile(r"/channels$"))
    row = page.locator("tr", has_text="Acme Support")
    expect(row.get_by_text("Active")).to_be_visible()
    expect(row.get_by_text(re.compile(r"Lapses \d+ \w+ \d{4}"))).to_be_visible()
    expect(row.get_by_text("in 89 days")).to_be_visible()
