"""A page's settings: where conversations go, and replying after 24 hours (admins only)."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask

from tests.helpers import WebClient
from webapp.extensions import db
from webapp.facebook import content, policy
from webapp.helpdesk import channels
from webapp.models import Channel, ChatChannel

DEFAULT_TERMS = "\n".join(content.DEFAULT_PROMOTIONAL_TERMS)


def add_page(app: Flask, **columns: object) -> int:
    with app.app_context():
        page = Channel(page_id="1001", name="Acme <Support>", **columns)
        db.session.add(page)
        db.session.commit()
        return page.id


def stored(app: Flask, channel_id: int) -> Channel:
    with app.app_context():
        page = db.session.get(Channel, channel_id)
        assert page is not None
        db.session.expunge(page)
        return page


CHECKBOX = re.compile(r"<input ([^>]*)>")
TEXTAREA = re.compile(r'<textarea[^>]*name="promotional_terms"[^>]*>(.*?)</textarea>', re.DOTALL)


def ticked(page: str) -> set[str]:
    """The names of the checked checkboxes on a page."""
    inputs = [attributes.split() for attributes in CHECKBOX.findall(page)]
    return {
        name.removeprefix('name="').removesuffix('"')
        for attributes in inputs
        if "checked" in attributes
        for name in attributes
        if name.startswith("name=")
    }


def terms_shown(page: str) -> str:
    """The promotional words in the form's textarea, as the browser shows them."""
    [content] = TEXTAREA.findall(page)
    assert "<" not in content  # escaped
    return html.unescape(content).replace("\r\n", "\n").strip("\n")


def messaging(**fields: str) -> dict[str, str]:
    return {"subscription_use": "", "promotional_terms": DEFAULT_TERMS, **fields}


def test_the_page_explains_each_setting(app: Flask, admin_web: WebClient) -> None:
    page = admin_web.get(f"/channels/{add_page(app)}/settings")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Replying after 24 hours" in text
    assert "Use Facebook's Human Agent tag for late replies (up to 7 days)" in text
    assert "this Meta app has the Human Agent feature approved in App Review" in " ".join(
        text.replace("<strong>", "").replace("</strong>", "").split()
    )
    assert "Since March 2020 Facebook grants subscription messaging only to pages" in text
    assert "When the customer answers, the" in text
    assert "What Facebook approved this page for" in text
    assert terms_shown(page.text) == DEFAULT_TERMS  # the default list, one per line
    assert "Acme &lt;Support&gt;" in page.text
    assert page.text.count('type="checkbox"') == 2
    assert ticked(page.text) == set()


def test_an_admin_turns_on_human_agent_replies(app: Flask, admin_web: WebClient) -> None:
    channel_id = add_page(app)
    saved = admin_web.post(
        f"/channels/{channel_id}/settings/messaging", messaging(human_agent_enabled="y")
    )
    assert saved.status_code == 302
    assert saved.headers["Location"] == f"/channels/{channel_id}/settings"
    page = stored(app, channel_id)
    assert (page.human_agent_enabled, page.subscription_enabled) == (True, False)
    assert page.promotional_terms is None  # the default list unchanged is not stored
    shown = admin_web.get(f"/channels/{channel_id}/settings").text
    assert "Saved how “Acme &lt;Support&gt;” replies after 24 hours." in shown
    assert ticked(shown) == {"human_agent_enabled"}
    with app.app_context():
        assert channels.messaging_rules(page) == policy.Rules(human_agent_enabled=True)


def test_an_admin_turns_on_subscription_messages_with_their_use(
    app: Flask, admin_web: WebClient
) -> None:
    channel_id = add_page(app)
    use = "Daily <news> digest & alerts"
    saved = admin_web.post(
        f"/channels/{channel_id}/settings/messaging",
        messaging(subscription_enabled="y", subscription_use=f"  {use} "),
    )
    assert saved.status_code == 302
    page = stored(app, channel_id)
    assert (page.human_agent_enabled, page.subscription_enabled) == (False, True)
    assert page.subscription_use == use
    shown = admin_web.get(f"/channels/{channel_id}/settings").text
    assert 'value="Daily &lt;news&gt; digest &amp; alerts"' in shown
    assert channels.messaging_rules(page) == policy.Rules(subscription_enabled=True)


def test_subscription_messages_need_a_use_case(app: Flask, admin_web: WebClient) -> None:
    channel_id = add_page(app, human_agent_enabled=True)
    refused = admin_web.post(
        f"/channels/{channel_id}/settings/messaging",
        messaging(subscription_enabled="y", subscription_use="   ", promotional_terms="sale"),
    )
    assert refused.status_code == 422
    assert "Say what Facebook approved subscription messages for" in html.unescape(refused.text)
    assert 'class="field has-error"' in refused.text
    page = stored(app, channel_id)  # nothing saved: not even the other fields
    assert (page.human_agent_enabled, page.subscription_enabled) == (True, False)
    assert page.subscription_use is None
    assert page.promotional_terms is None


def test_an_admin_edits_the_promotional_words(app: Flask, admin_web: WebClient) -> None:
    channel_id = add_page(app)
    admin_web.post(
        f"/channels/{channel_id}/settings/messaging",
        messaging(promotional_terms="Sale\r\n  buy now \r\n\r\nsale\r\nflash <deal>"),
    )
    page = stored(app, channel_id)
    assert page.promotional_terms == "Sale\nbuy now\nflash <deal>"
    assert channels.promotional_terms_for(page) == ("Sale", "buy now", "flash <deal>")
    shown = admin_web.get(f"/channels/{channel_id}/settings").text
    assert terms_shown(shown) == "Sale\nbuy now\nflash <deal>"
    admin_web.post(f"/channels/{channel_id}/settings/messaging", messaging(promotional_terms=""))
    page = stored(app, channel_id)
    assert page.promotional_terms is None  # cleared: back to the default list
    assert channels.promotional_terms_for(page) == content.DEFAULT_PROMOTIONAL_TERMS


def test_turning_settings_off_again(app: Flask, admin_web: WebClient) -> None:
    channel_id = add_page(
        app, human_agent_enabled=True, subscription_enabled=True, subscription_use="News"
    )
    both = {"human_agent_enabled", "subscription_enabled"}
    assert ticked(admin_web.get(f"/channels/{channel_id}/settings").text) == both
    admin_web.post(f"/channels/{channel_id}/settings/messaging", messaging(subscription_use="News"))
    page = stored(app, channel_id)
    assert (page.human_agent_enabled, page.subscription_enabled) == (False, False)
    assert page.subscription_use == "News"  # kept for when it is turned on again


def test_saving_the_routing_keeps_the_messaging_settings(app: Flask, admin_web: WebClient) -> None:
    channel_id = add_page(
        app, human_agent_enabled=True, subscription_enabled=True, subscription_use="News",
        promotional_terms="sale",
    )  # fmt: skip
    with app.app_context():
        chat = ChatChannel(name="Support chat")
        db.session.add(chat)
        db.session.commit()
        chat_id = chat.id
    saved = admin_web.post(
        f"/channels/{channel_id}/settings",
        {"messenger_chat_id": str(chat_id), "comments_chat_id": ""},
    )
    assert saved.status_code == 302
    page = stored(app, channel_id)
    assert page.messenger_chat_id == chat_id
    assert (page.human_agent_enabled, page.subscription_enabled) == (True, True)
    assert (page.subscription_use, page.promotional_terms) == ("News", "sale")


def test_saving_the_messaging_settings_keeps_the_routing(app: Flask, admin_web: WebClient) -> None:
    with app.app_context():
        chat = ChatChannel(name="Support chat")
        db.session.add(chat)
        db.session.commit()
        chat_id = chat.id
    channel_id = add_page(app, messenger_chat_id=chat_id, comments_chat_id=chat_id)
    admin_web.post(f"/channels/{channel_id}/settings/messaging", messaging(human_agent_enabled="y"))
    page = stored(app, channel_id)
    assert (page.messenger_chat_id, page.comments_chat_id) == (chat_id, chat_id)
    assert page.human_agent_enabled


def test_a_refused_routing_save_shows_the_stored_messaging_settings(
    app: Flask, admin_web: WebClient
) -> None:
    channel_id = add_page(app, human_agent_enabled=True)
    refused = admin_web.post(f"/channels/{channel_id}/settings", {"messenger_chat_id": "999"})
    assert refused.status_code == 422
    assert ticked(refused.text) == {"human_agent_enabled"}  # not the posted form's (unticked)


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "settings"), ("POST", "settings"), ("POST", "settings/messaging")]
)
def test_agents_get_403(app: Flask, agent_web: WebClient, method: str, path: str) -> None:
    channel_id = add_page(app)
    url = f"/channels/{channel_id}/{path}"
    if method == "GET":
        response = agent_web.get(url)
    else:
        response = agent_web.post(url, messaging(human_agent_enabled="y"))
    assert response.status_code == 403
    assert not stored(app, channel_id).human_agent_enabled


def test_saving_needs_the_csrf_token(app: Flask, admin_web: WebClient) -> None:
    channel_id = add_page(app)
    url = f"/channels/{channel_id}/settings/messaging"
    response = admin_web.client.post(url, data=messaging(human_agent_enabled="y"))
    assert response.status_code == 400
    assert "Your form expired" in response.text
    forged = admin_web.client.post(
        url, data={**messaging(human_agent_enabled="y"), "csrf_token": "x"}
    )
    assert forged.status_code == 400
    assert not stored(app, channel_id).human_agent_enabled


def test_an_unknown_page_is_a_404(admin_web: WebClient) -> None:
    assert admin_web.get("/channels/42/settings").status_code == 404
    assert admin_web.post("/channels/42/settings/messaging", messaging()).status_code == 404


def test_a_connected_page_gets_its_late_reply_settings(
    app: Flask, admin_web: WebClient, connected: Channel
) -> None:
    url = f"/channels/{connected.id}/settings"
    assert "Replying after 24 hours" in admin_web.get(url).text
    saved = admin_web.post(
        f"{url}/messaging",
        messaging(human_agent_enabled="y", subscription_enabled="y", subscription_use="News"),
    )
    assert saved.status_code == 302
    page = stored(app, connected.id)
    assert channels.messaging_rules(page) == policy.Rules(True, True)
    assert ticked(admin_web.get(url).text) == {"human_agent_enabled", "subscription_enabled"}
