"""The ticket list and card: filters, counts, polling, status, assignment, notes, chats."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.helpers import Credentials, WebClient, well_inside_a_minute
from tests.web.test_webhooks import CORA, DAN, PAYLOADS, deliver, process, rows
from webapp.models import Channel, Conversation, Message


def conversation_of(app: Flask, psid: str = CORA) -> Conversation:
    [found] = [c for c in rows(app, Conversation) if c.contact_id and _psid(app, c) == psid]
    return found


def _psid(app: Flask, conversation: Conversation) -> str:
    from webapp.models import Contact

    [contact] = rows(app, Contact, Contact.id == conversation.contact_id)
    return contact.external_id


def test_the_list_filters_counts_and_searches(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    deliver(app, "messenger/text.json")
    deliver(app, "feed/comment_add.json")
    process(app)
    page = admin_web.get("/inbox")
    assert page.status_code == 200
    assert "Cora Customer" in page.text
    assert re.search(r'Open <span class="count">2</span>', page.text)
    only_comments = admin_web.get("/inbox?source=comment")
    assert "Comment" in only_comments.text
    assert "Cora Customer" not in only_comments.text
    searched = admin_web.get("/inbox?q=ORDER&status=all")
    assert "Cora Customer" in searched.text
    assert "Dan Díaz" not in searched.text
    nothing = admin_web.get("/inbox?q=no-such-words")
    assert "Nothing matches" in nothing.text


def test_search_finds_any_part_of_a_name_or_message_as_it_is_now(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    """Trigram indexes (FTS5 on SQLite, pg_trgm on PostgreSQL) kept up to date as text changes."""
    deliver(app, "messenger/text.json")  # Cora: "Hello, is my order on its way? Grüße"
    deliver(app, "feed/comment_add.json")  # Dan Díaz: "Is the shop open on Sunday?"
    process(app)

    def found(q: str) -> set[str]:
        page = admin_web.get("/inbox", query_string={"q": q, "status": "all"}).text
        return {name for name in ("Cora Customer", "Dan Díaz") if name in page}

    assert found("sunda") == {"Dan Díaz"}  # inside a word, any case
    assert found("íAZ") == {"Dan Díaz"}  # a customer's name
    assert found("is") == {"Cora Customer", "Dan Díaz"}  # under three characters too
    assert found('"quoted" words') == set()
    assert found("#42") == set()
    deliver(app, "messenger/edit.json")  # "Hello, is my order #42 on its way?"
    process(app)
    assert found("order #42") == {"Cora Customer"}
    assert found("grüße") == set()  # the earlier text is kept on the card, not searched
    no_counts = admin_web.get("/inbox?q=order").text
    assert 'class="count"' not in no_counts  # a search's matches are listed, not counted


def test_counts_stop_at_the_cap_and_the_pager_still_goes_on(
    app: Flask, connected: Channel, admin_web: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webapp.helpdesk import conversations

    deliver(app, "messenger/text.json")
    deliver(app, "feed/comment_add.json")
    deliver(app, "feed/comment_reply.json")
    process(app)
    page = admin_web.get("/inbox").text
    assert re.search(r'Open <span class="count">2</span>', page)
    assert "Older" not in page
    monkeypatch.setattr(conversations, "COUNT_CAP", 1)
    monkeypatch.setattr(conversations, "PAGE_SIZE", 1)
    first = admin_web.get("/inbox").text
    assert re.search(r'Open <span class="count">1\+</span>', first)
    assert re.search(r'All <span class="count">1\+</span>', first)
    assert "Page 1<" in first  # no "of N": the count was capped
    older = re.search(r'href="([^"]*p=2[^"]*)">Older', first).group(1).replace("&amp;", "&")
    second = admin_web.get(older).text
    assert "Older" not in second
    assert "Newer" in second
    shown = [name in text for name in ("Cora Customer", "Dan Díaz") for text in (first, second)]
    assert sum(shown) == 2  # each on exactly one page


def test_polling_answers_no_change_until_something_happens(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    deliver(app, "messenger/text.json")
    process(app)
    well_inside_a_minute()
    page = admin_web.get("/inbox")
    poll = re.search(r'hx-get="([^"]*since=[^"]+)"', page.text).group(1).replace("&amp;", "&")
    assert admin_web.get(poll, htmx=True).status_code == 204
    deliver(app, "feed/comment_add.json")
    process(app)
    changed = admin_web.get(poll, htmx=True)
    assert changed.status_code == 200
    assert 'id="ticket-list"' in changed.text


def test_the_card_shows_the_conversation_and_takes_notes_status_and_assignment(
    app: Flask, connected: Channel, admin_web: WebClient, agent: Credentials
) -> None:
    deliver(app, "messenger/text.json")
    process(app)
    conversation = conversation_of(app)
    card = admin_web.get(f"/inbox/{conversation.id}")
    assert card.status_code == 200
    assert "Cora Customer" in card.text
    admin_web.post(f"/inbox/{conversation.id}/note", {"text": "Call her <b>back</b>"})
    admin_web.post(f"/inbox/{conversation.id}/status", {"status": "pending"})
    admin_web.post(f"/inbox/{conversation.id}/assign", {"assignee_id": str(agent.id)})
    card = admin_web.get(f"/inbox/{conversation.id}")
    assert "Call her &lt;b&gt;back&lt;/b&gt;" in card.text
    assert "Ada Admin marked it pending." in card.text
    assert "Ada Admin assigned it to Alan Agent." in card.text
    [note] = [m for m in rows(app, Message) if m.kind == "note"]
    assert note.status is None
    assert note.facebook_id is None
    mine = WebClient(app.test_client())
    mine.login(agent)
    assert "Cora Customer" in mine.get("/inbox?who=mine&status=pending").text
    assert "Cora Customer" not in mine.get("/inbox?who=unassigned&status=all").text


def test_opening_a_card_clears_its_unread_count(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    deliver(app, "messenger/text.json")
    process(app)
    conversation = conversation_of(app)
    assert conversation.unread_count == 1
    admin_web.get(f"/inbox/{conversation.id}")
    assert conversation_of(app).unread_count == 0


def test_a_conversation_moves_to_a_chat_and_back(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    admin_web.post("/channels/chats", {"name": "Support chat"})
    deliver(app, "messenger/text.json")
    process(app)
    conversation = conversation_of(app)
    [chat_id] = re.findall(r"/chats/(\d+)", admin_web.get("/inbox").text)
    admin_web.post(f"/inbox/{conversation.id}/move", {"chat_id": chat_id})
    queue = admin_web.get(f"/chats/{chat_id}")
    assert "Cora Customer" in queue.text
    assert "Cora Customer" not in admin_web.get("/inbox?status=all").text.split("Tickets")[-1]
    pane = admin_web.get(f"/chats/{chat_id}?c={conversation.id}")
    assert "Close chat" in pane.text
    admin_web.post(f"/inbox/{conversation.id}/move", {"chat_id": ""})
    assert conversation_of(app).mode == "ticket"
    assert DAN  # the second customer exists for other tests


def test_sorting_by_the_window_puts_the_one_closing_soonest_first(
    app: Flask, connected: Channel, admin_web: WebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json
    import time

    deliver(app, "messenger/text.json")  # Cora, in September: her window closed long ago
    now_ms = int(time.time() * 1000)
    for psid, minutes_ago in ((DAN, 60), ("700000100000003", 5)):
        body = json.loads((PAYLOADS / "messenger/text.json").read_text())
        event = body["entry"][0]["messaging"][0]
        event["sender"]["id"], event["timestamp"] = psid, now_ms - minutes_ago * 60_000
        event["message"]["mid"] = f"m_{psid}"
        deliver(app, json.dumps(body).encode())
    process(app)
    page = admin_web.get("/inbox?sort=window").text
    order = re.findall(r"<strong>([^<]+)</strong></a>", page)
    # Dan's window closes first (he wrote an hour ago), then Phoebe's (no profile: a
    # fallback name); Cora's closed window comes after the open ones.
    assert order == ["Dan Díaz", "Facebook user …0003", "Cora Customer"]
    by_name = admin_web.get("/inbox?q=d%C3%ADaz&status=all").text
    assert re.findall(r"<strong>([^<]+)</strong></a>", by_name) == ["Dan Díaz"]

    deliver(app, "feed/comment_add.json")  # a comment has no window: it comes last
    process(app)
    expected = ["Dan Díaz", "Facebook user …0003", "Cora Customer", "Dan Díaz"]
    page = admin_web.get("/inbox?sort=window").text
    assert re.findall(r"<strong>([^<]+)</strong></a>", page) == expected
    assert "Comments: no window" in page.split("Cora Customer")[1]
    from webapp.helpdesk import conversations

    monkeypatch.setattr(conversations, "PAGE_SIZE", 1)  # one per page, across the ranges
    walked = [
        re.findall(r"<strong>([^<]+)</strong></a>", admin_web.get(f"/inbox?sort=window&p={n}").text)
        for n in range(1, 6)
    ]
    assert walked == [[name] for name in expected] + [[]]


def messages_from_cora(texts: list[str], first: int = 0) -> bytes:
    """One delivery of several Messenger messages from Cora, a second apart."""
    import json

    body = json.loads((PAYLOADS / "messenger/text.json").read_text())
    [event] = body["entry"][0]["messaging"]
    body["entry"][0]["messaging"] = [
        {**event, "timestamp": event["timestamp"] + (first + n) * 1000,
         "message": {"mid": f"m_many_{first + n}", "text": text}}
        for n, text in enumerate(texts)
    ]  # fmt: skip
    return json.dumps(body).encode()


def test_a_long_thread_shows_its_latest_messages_and_all_on_request(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    from webapp.helpdesk import conversations

    count = conversations.THREAD_PAGE + 5
    deliver(app, messages_from_cora([f"Message number {n:03}" for n in range(count)]))
    process(app)
    conversation = conversation_of(app)
    card = admin_web.get(f"/inbox/{conversation.id}").text
    assert "Message number 054" in card
    assert "Message number 005" in card
    assert "Message number 004" not in card
    assert "Show all\n        55 messages</a>" in card
    assert "(5 earlier ones are not shown)" in card

    whole = admin_web.get(f"/inbox/{conversation.id}?thread=all").text
    assert "Message number 000" in whole
    assert "earlier ones are not shown" not in whole
    # The thread's poll from the whole-thread page keeps showing everything.
    poll = re.search(r'<ol id="thread"[^>]*hx-get="([^"]+)"', whole).group(1).replace("&amp;", "&")
    deliver(app, messages_from_cora(["One more"], first=count))
    process(app)
    page = f"http://localhost/inbox/{conversation.id}?thread=all"
    refreshed = admin_web.get(poll, htmx=True, headers={"HX-Current-URL": page})
    assert "One more" in refreshed.text
    assert "Message number 000" in refreshed.text
    latest_only = admin_web.get(poll, htmx=True)
    assert "One more" in latest_only.text
    assert "Message number 000" not in latest_only.text


def test_inbox_pages_read_without_a_transaction_on_postgresql(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    from sqlalchemy import event

    from webapp.extensions import db

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite begins a transaction only at the first write anyway")
    deliver(app, "messenger/text.json")
    process(app)
    conversation = conversation_of(app)
    seen: list[bool] = []

    def note(connection, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append(connection.connection.dbapi_connection.autocommit)

    well_inside_a_minute()
    event.listen(engine, "before_cursor_execute", note)
    try:
        page = admin_web.get("/inbox")
        poll = re.search(r'hx-get="([^"]*since=[^"]+)"', page.text).group(1).replace("&amp;", "&")
        assert admin_web.get(poll, htmx=True).status_code == 204
        assert seen
        assert all(seen), "the list and its poll run in autocommit"
        seen.clear()
        assert admin_web.get(f"/inbox/{conversation.id}").status_code == 200
        assert seen[0], "the card's first statements too (its commit ends that)"
        assert conversation_of(app).unread_count == 0, "its one write is kept"
        seen.clear()
        assert admin_web.get(f"/inbox/{conversation.id}").status_code == 200
        assert seen
        assert all(seen), "with nothing to write, the whole card"
        seen.clear()
        admin_web.post(f"/inbox/{conversation.id}/note", {"text": "Checked"})
        assert seen
        assert not any(seen), "a write runs in a transaction"
    finally:
        event.remove(engine, "before_cursor_execute", note)
