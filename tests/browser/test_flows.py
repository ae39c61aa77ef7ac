"""What a person clicks through, in Chromium against the app on a loopback port."""

from __future__ import annotations

import re

from flask import Flask
from playwright.sync_api import Page, expect

from tests.helpers import Credentials
from webapp.extensions import db
from webapp.helpdesk import accounts


def sign_in(page: Page, who: Credentials) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(who.email)
    page.get_by_label("Password").fill(who.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))


def count_navigations(page: Page) -> list[str]:
    """URLs the main frame navigated to from now on: an HTMX swap adds none."""
    navigations: list[str] = []
    page.on(
        "framenavigated", lambda frame: frame == page.main_frame and navigations.append(frame.url)
    )
    return navigations


def test_admin_manages_chat_channels_without_reloads(page: Page, admin: Credentials) -> None:
    sign_in(page, admin)
    expect(page.get_by_text("Your inbox is empty for now")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="Channels").click()
    expect(page.get_by_text("No Facebook pages connected yet")).to_be_visible()
    expect(page.get_by_text("No chat channels yet.")).to_be_visible()

    navigations = count_navigations(page)
    page.get_by_label("New chat channel name").fill("Support chat")
    page.get_by_role("button", name="Add chat channel").click()
    row = page.locator("#chat-rows tr.row")
    expect(row).to_have_count(1)
    expect(row.get_by_label("Name of Support chat")).to_have_value("Support chat")
    expect(page.get_by_text("Chat channel “Support chat” added.")).to_be_visible()
    expect(page.get_by_text("No chat channels yet.")).to_be_hidden()
    expect(page.get_by_label("New chat channel name")).to_have_value("")

    row.get_by_label("Name of Support chat").fill("Help chat")
    row.get_by_role("button", name="Rename").click()
    expect(page.get_by_text("Renamed to “Help chat”.")).to_be_visible()
    expect(page.locator("#chat-rows tr.row").get_by_role("textbox")).to_have_value("Help chat")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#chat-rows tr.row").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Chat channel “Help chat” deleted.")).to_be_visible()
    expect(page.locator("#chat-rows tr.row")).to_have_count(0)
    expect(page.get_by_text("No chat channels yet.")).to_be_visible()
    assert navigations == []  # every change above was swapped in place

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You're signed out.")).to_be_visible()
    page.goto("/channels")
    expect(page.get_by_role("heading", name="Sign in to Pagedesk")).to_be_visible()


def test_a_refused_change_explains_itself_in_place(page: Page, admin: Credentials) -> None:
    sign_in(page, admin)
    page.goto("/channels")
    for name in ("Sales chat", "Support chat"):
        page.get_by_label("New chat channel name").fill(name)
        page.get_by_role("button", name="Add chat channel").click()
        expect(page.get_by_label(f"Name of {name}")).to_be_visible()
    page.get_by_label("New chat channel name").fill("sales CHAT")
    page.get_by_role("button", name="Add chat channel").click()
    expect(page.get_by_text("There is already a chat channel called “sales CHAT”.")).to_be_visible()
    expect(page.locator("#chat-rows tr.row")).to_have_count(2)


def test_an_agent_is_refused_the_channels_section(page: Page, agent: Credentials) -> None:
    sign_in(page, agent)
    expect(page.get_by_role("link", name="Inbox")).to_be_visible()
    expect(page.get_by_role("link", name="Channels")).to_have_count(0)
    expect(page.get_by_role("link", name="Team")).to_have_count(0)
    response = page.goto("/channels")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_text("You don't have access to this page")).to_be_visible()


def test_an_ended_session_sends_htmx_to_the_login_page(
    app: Flask, page: Page, admin: Credentials
) -> None:
    sign_in(page, admin)
    page.goto("/channels")
    with app.app_context():  # as if the password were reset from another admin's desk
        accounts.reset_password(db.session, user_id=admin.id, password="another long secret")
    page.get_by_label("New chat channel name").fill("Support chat")
    page.get_by_role("button", name="Add chat channel").click()
    expect(page.get_by_role("heading", name="Sign in to Pagedesk")).to_be_visible()
    assert "/login?next=" in page.url


def test_admin_adds_a_team_member(page: Page, admin: Credentials) -> None:
    sign_in(page, admin)
    page.get_by_role("navigation").get_by_role("link", name="Team").click()
    page.get_by_label("Name").fill("Grace Hopper")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_label("Role", exact=True).select_option("agent")
    page.get_by_label("Initial password").fill("a long enough secret")
    page.get_by_role("button", name="Add to team").click()
    expect(page.get_by_text("Grace Hopper can now sign in as agent.")).to_be_visible()
    expect(page.locator("#member-rows tr.row")).to_have_count(2)
