"""A customer's attachment link reaches an agent's ``href`` only when it is https."""

from __future__ import annotations

import json
import re

from flask import Flask

from tests.helpers import WebClient
from tests.web.test_webhooks import CORA, deliver, process, rows
from webapp.models import Channel, Conversation

PAGE = "200000000000001"
LINKS = {
    "https://cdn.fbsbx.com/v/invoice.pdf": True,
    "HTTPS://cdn.fbsbx.com/v/SHOUTED.pdf": True,
    "javascript:alert(document.domain)": False,
    " javascript:alert(1)": False,
    "data:text/html,<script>alert(1)</script>": False,
    "http://evil.example/plain.pdf": False,
    "//evil.example/no-scheme.pdf": False,
    "https:relative-without-host": False,
}


def _message_with(urls: list[str]) -> bytes:
    attachments = [
        {"type": "file", "payload": {"url": url, "title": f"file {n}"}}
        for n, url in enumerate(urls)
    ]
    event = {
        "sender": {"id": CORA},
        "recipient": {"id": PAGE},
        "timestamp": 1790000001000,
        "message": {"mid": "m_links_1", "attachments": attachments},
    }
    body = {"object": "page", "entry": [{"id": PAGE, "time": 1790000001000, "messaging": [event]}]}
    return json.dumps(body).encode()


def test_only_https_links_are_clickable(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    deliver(app, _message_with(list(LINKS)))
    process(app)
    (conversation,) = rows(app, Conversation)
    card = admin_web.get(f"/inbox/{conversation.id}").text
    hrefs = re.findall(r'<a href="([^"]*)" rel="noopener noreferrer"', card)
    assert hrefs == [url.replace("&", "&amp;") for url, shown in LINKS.items() if shown]
    assert "javascript:" not in card.split("<main", 1)[-1]
    assert "data:text/html" not in card
    refused = sum(not shown for shown in LINKS.values())
    assert card.count("its link is not shown: only https links are") == refused
