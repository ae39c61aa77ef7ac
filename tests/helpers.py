"""Test helpers: making people, and a client that signs in and sends CSRF tokens."""

from __future__ import annotations

import contextlib
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from webapp.extensions import db
from webapp.helpdesk import accounts
from webapp.models import Role

PASSWORD = "correct horse battery"
FORM_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
HX_HEADERS = re.compile(r"hx-headers='([^']+)'")


@dataclass(frozen=True)
class Credentials:
    id: int
    email: str
    password: str


def make_user(
    app: Flask, email: str, role: Role, *, name: str = "", password: str = PASSWORD
) -> Credentials:
    """Add a person through the same service the Team page uses."""
    with app.app_context():
        user = accounts.create_user(
            db.session, email=email, name=name or email, role=role, password=password
        )
        return Credentials(user.id, user.email, password)


def csrf_from(html: str) -> str:
    """The CSRF token a page hands to htmx (``hx-headers``) or to its forms."""
    if match := HX_HEADERS.search(html):
        return json.loads(match.group(1))["X-CSRFToken"]
    if match := FORM_TOKEN.search(html):
        return match.group(1)
    raise AssertionError("no CSRF token on the page")


class WebClient:
    """Flask's test client, posting like a browser does: with the page's CSRF token."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token: str | None = None

    def get(self, url: str, *, htmx: bool = False, **kwargs: Any) -> TestResponse:
        headers = {**({"HX-Request": "true"} if htmx else {}), **kwargs.pop("headers", {})}
        response = self.client.get(url, headers=headers, **kwargs)
        if "text/html" in response.content_type and response.status_code == 200:
            with contextlib.suppress(AssertionError):  # pages without a form
                self.token = csrf_from(response.text)
        return response

    def post(
        self, url: str, data: dict[str, str] | None = None, *, htmx: bool = False, **kwargs: Any
    ) -> TestResponse:
        if self.token is None:
            self.get("/login")
        if htmx:
            headers = {"HX-Request": "true", "X-CSRFToken": self.token or ""}
            return self.client.post(url, data=data or {}, headers=headers, **kwargs)
        return self.client.post(url, data={"csrf_token": self.token, **(data or {})}, **kwargs)

    def login(self, who: Credentials, password: str | None = None) -> TestResponse:
        self.get("/login")
        response = self.post("/login", {"email": who.email, "password": password or who.password})
        if response.status_code == 302:
            self.get("/inbox")  # a new session: pick up its new CSRF token
        return response


def well_inside_a_minute(margin: float = 3.0) -> None:
    """Start a page-then-poll check where the minute will not turn in between.

    A poll's marker changes each minute by design (reply-window countdowns move on).
    """
    now = datetime.now(UTC)
    left = 60 - now.second - now.microsecond / 1_000_000
    if left < margin:
        time.sleep(left + 0.05)
