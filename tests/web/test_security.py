"""CSRF, security headers, cookies, and no inline scripts anywhere."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from flask import Flask

from tests.helpers import Credentials, WebClient


def test_a_form_post_without_a_csrf_token_is_refused(app: Flask, admin_web: WebClient) -> None:
    response = admin_web.client.post("/channels/chats", data={"name": "Sneaky chat"})
    assert response.status_code == 400
    assert "Your form expired" in response.text
    assert "Sneaky chat" not in admin_web.get("/channels").text


def test_an_htmx_post_without_the_header_is_refused(admin_web: WebClient) -> None:
    response = admin_web.client.post(
        "/channels/chats", data={"name": "Sneaky chat"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert "<html" not in response.text


def test_the_login_form_needs_its_token_too(web: WebClient, admin: Credentials) -> None:
    response = web.client.post("/login", data={"email": admin.email, "password": admin.password})
    assert response.status_code == 400
    assert web.get("/inbox").status_code == 302


def test_security_headers(admin_web: WebClient) -> None:
    headers = admin_web.get("/inbox").headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_session_cookie_is_httponly_and_samesite(web: WebClient, admin: Credentials) -> None:
    response = web.login(admin)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_passwords_are_stored_hashed(app: Flask, admin: Credentials) -> None:
    from webapp.extensions import db
    from webapp.models import User

    with app.app_context():
        user = db.session.get(User, admin.id)
        assert user is not None
        assert admin.password not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


class ScriptFinder(HTMLParser):
    """Collects inline scripts and ``on*=`` handlers, which the CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            if "src" not in names:
                self.problems.append("inline <script>")
            else:
                self.scripts.append(names["src"] or "")
        self.problems += [f"{tag} {name}=" for name in names if name.startswith(("on", "hx-on"))]


@pytest.mark.parametrize("url", ["/inbox", "/channels", "/channels/new", "/team", "/logout"])
def test_pages_have_no_inline_script(admin_web: WebClient, url: str) -> None:
    finder = ScriptFinder()
    finder.feed(admin_web.get(url).text)
    assert finder.problems == []
    assert finder.scripts == ["/static/htmx.min.js", "/static/app.js"]


def test_htmx_is_served_from_our_own_static_folder(web: WebClient) -> None:
    with web.client.get("/static/htmx.min.js") as response:
        assert response.status_code == 200
        assert b"htmx" in response.data[:200]
