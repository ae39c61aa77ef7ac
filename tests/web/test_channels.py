"""The Channels section: Facebook pages and chat channels, admins only."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.helpers import WebClient
from webapp.extensions import db
from webapp.models import Channel, ChatChannel


def add_chat(app: Flask, name: str) -> int:
    with app.app_context():
        chat = ChatChannel(name=name)
        db.session.add(chat)
        db.session.commit()
        return chat.id


def test_empty_states_say_what_connecting_does(admin_web: WebClient) -> None:
    page = admin_web.get("/channels")
    assert page.status_code == 200
    assert "No Facebook pages connected yet" in page.text
    assert "Messenger messages and the comments on its wall" in page.text
    assert "No chat channels yet." in page.text


def test_creating_a_chat_channel_without_javascript(admin_web: WebClient) -> None:
    response = admin_web.post("/channels/chats", {"name": "Support chat"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/channels"
    page = admin_web.get("/channels")
    assert 'value="Support chat"' in page.text
    assert "Chat channel “Support chat” added." in page.text


def test_the_add_channel_page_creates_a_chat_channel(admin_web: WebClient) -> None:
    assert "Chat channel" in admin_web.get("/channels/new").text
    assert admin_web.post("/channels/chats", {"name": "Sales chat"}).status_code == 302
    assert 'value="Sales chat"' in admin_web.get("/channels").text


def test_creating_over_htmx_returns_the_new_row_and_a_fresh_form(admin_web: WebClient) -> None:
    response = admin_web.post("/channels/chats", {"name": "Support chat"}, htmx=True)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'id="chat-' in response.text
    assert 'id="new-chat-form"' in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_the_same_url_gives_a_page_or_a_fragment(admin_web: WebClient) -> None:
    full = admin_web.get("/channels")
    fragment = admin_web.post("/channels/chats", {"name": ""}, htmx=True)
    assert "<html" in full.text
    assert "HX-Request" in full.headers["Vary"]
    assert fragment.status_code == 422
    assert "<html" not in fragment.text
    assert "This field is required." in fragment.text


def test_names_are_unique_without_case(app: Flask, admin_web: WebClient) -> None:
    add_chat(app, "Support chat")
    response = admin_web.post("/channels/chats", {"name": "support CHAT"})
    assert response.status_code == 422
    assert "There is already a chat channel called “support CHAT”." in response.text


def test_renaming_swaps_just_the_row(app: Flask, admin_web: WebClient) -> None:
    chat_id = add_chat(app, "Support chat")
    response = admin_web.post(f"/channels/chats/{chat_id}", {"name": "Help chat"}, htmx=True)
    assert response.status_code == 200
    assert response.text.count("<tr") == 1
    assert 'value="Help chat"' in response.text
    assert "Renamed to “Help chat”." in response.text


def test_renaming_to_a_taken_name_is_refused(app: Flask, admin_web: WebClient) -> None:
    add_chat(app, "Sales chat")
    chat_id = add_chat(app, "Support chat")
    response = admin_web.post(f"/channels/chats/{chat_id}", {"name": "Sales chat"}, htmx=True)
    assert response.status_code == 409
    assert 'value="Support chat"' in response.text


def test_deleting_over_htmx_leaves_only_the_message(app: Flask, admin_web: WebClient) -> None:
    chat_id = add_chat(app, "Support chat")
    response = admin_web.post(f"/channels/chats/{chat_id}/delete", htmx=True)
    assert response.status_code == 200
    assert "<tr" not in response.text
    assert "Chat channel “Support chat” deleted." in response.text
    assert 'value="Support chat"' not in admin_web.get("/channels").text


def test_a_chat_channel_a_page_routes_to_cannot_be_deleted(
    app: Flask, admin_web: WebClient
) -> None:
    chat_id = add_chat(app, "Support chat")
    with app.app_context():
        db.session.add(Channel(page_id="1001", name="Acme <Support>", messenger_chat_id=chat_id))
        db.session.commit()
    response = admin_web.post(f"/channels/chats/{chat_id}/delete", htmx=True)
    assert response.status_code == 409
    assert "“Support chat” receives conversations from Acme &lt;Support&gt; (Messenger)" in (
        response.text
    )
    assert f'id="chat-{chat_id}"' in response.text
    page = admin_web.get("/channels")
    assert 'value="Support chat"' in page.text
    assert "Acme &lt;Support&gt;" in page.text  # the page is listed, its name escaped


def test_a_deleted_chat_channel_is_a_404(admin_web: WebClient) -> None:
    assert admin_web.post("/channels/chats/42/delete").status_code == 404


def test_customer_strings_are_escaped(admin_web: WebClient) -> None:
    admin_web.post("/channels/chats", {"name": '<script>alert("x")</script>'})
    page = admin_web.get("/channels")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert" in page.text


def channel_urls(app: Flask) -> list[tuple[str, str]]:
    """Every route under /channels, with a method it answers."""
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/channels"):
            url = re.sub(r"<[^>]+>", "1", rule.rule)
            method = "post" if "POST" in (rule.methods or ()) else "get"
            urls.append((method, url))
    return urls


def test_agents_get_403_on_every_channel_url(app: Flask, agent_web: WebClient) -> None:
    urls = channel_urls(app)
    assert len(urls) >= 12
    for method, url in urls:
        assert getattr(agent_web, method)(url).status_code == 403, url


@pytest.mark.parametrize("url", ["/channels", "/team"])
def test_agents_do_not_see_admin_navigation(agent_web: WebClient, url: str) -> None:
    page = agent_web.get("/inbox")
    assert f'href="{url}"' not in page.text
    assert "Your inbox is empty for now" in page.text


@pytest.mark.parametrize("url", ["/channels", "/team"])
def test_an_htmx_get_of_a_page_gets_the_whole_page(admin_web: WebClient, url: str) -> None:
    page = admin_web.get(url, htmx=True)
    assert page.status_code == 200
    assert "<html" in page.text
