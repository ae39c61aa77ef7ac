"""Helpers to click through Facebook Login on the sandbox with the test client."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from werkzeug.test import TestResponse

from tests.helpers import WebClient

MIA = "10000000000000001"  # fully administers Acme Support; moderates Community; owns Drafts
OTTO = "10000000000000002"
PAULA = "10000000000000003"  # 30 pages
ACME_SUPPORT, ACME_COMMUNITY, ACME_DRAFTS = "200000000000001", "200000000000002", "200000000000003"


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_on_facebook(web: WebClient, *, user_id: str = MIA, cancel: bool = False) -> TestResponse:
    """Continue with Facebook → the sandbox dialog → back to Pagedesk's callback."""
    start = web.get("/channels/facebook/connect")
    assert start.status_code == 302, start.text
    dialog = web.get(path_of(start.headers["Location"]))
    assert dialog.status_code == 200, dialog.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["Location"]).query).items()}
    choice = {"cancel": "1"} if cancel else {"allow": "1", "user_id": user_id}
    back = web.post(urlsplit(start.headers["Location"]).path, {**query, **choice})
    assert back.status_code == 302, back.text
    return web.get(path_of(back.headers["Location"]))


def pending_id(response: TestResponse) -> str:
    match = re.search(r"/channels/facebook/pages/([\w-]+)", response.headers["Location"])
    assert match, response.headers.get("Location")
    return match.group(1)


def connect_pages(web: WebClient, *page_ids: str, user_id: str = MIA) -> tuple[str, TestResponse]:
    """The whole connect flow: Facebook Login, then confirm these pages."""
    pending = pending_id(login_on_facebook(web, user_id=user_id))
    return pending, web.post(f"/channels/facebook/pages/{pending}", {"page_id": list(page_ids)})
