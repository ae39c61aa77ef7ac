"""Signing in and out, being kept out, and throttled guessing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from tests.helpers import Credentials, WebClient
from webapp.extensions import db
from webapp.helpdesk import accounts

GENERIC = "That email and password don&#39;t match an active account."


def test_login_page_has_the_documented_fields(web: WebClient) -> None:
    page = web.get("/login")
    assert page.status_code == 200
    for name in ("email", "password", "csrf_token"):
        assert f'name="{name}"' in page.text


def test_sign_in_then_out(web: WebClient, admin: Credentials) -> None:
    response = web.login(admin)
    assert response.status_code == 302
    assert response.headers["Location"] == "/inbox"
    assert "Ada Admin" in web.get("/inbox").text

    response = web.post("/logout")
    assert response.status_code == 302
    assert web.get("/inbox").status_code == 302
    assert "You&#39;re signed out." in web.get("/login").text


def test_logout_by_get_only_asks_to_confirm(admin_web: WebClient) -> None:
    assert "Sign out of Pagedesk?" in admin_web.get("/logout").text
    assert admin_web.get("/inbox").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_message(
    web: WebClient, admin: Credentials
) -> None:
    wrong = web.post("/login", {"email": admin.email, "password": "not the password"})
    unknown = web.post("/login", {"email": "nobody@example.com", "password": "whatever1234"})
    assert wrong.status_code == unknown.status_code == 401
    assert GENERIC in wrong.text
    assert GENERIC in unknown.text


def test_email_is_matched_without_case(web: WebClient, admin: Credentials) -> None:
    response = web.post("/login", {"email": " ADA@Example.com ", "password": admin.password})
    assert response.status_code == 302


@pytest.mark.parametrize("url", ["/", "/inbox", "/channels", "/channels/new", "/team", "/logout"])
def test_every_page_needs_a_sign_in(web: WebClient, url: str) -> None:
    response = web.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_htmx_requests_are_told_to_go_to_the_login_page(web: WebClient) -> None:
    response = web.get("/channels", htmx=True)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert "<form" not in response.text


def test_sign_in_returns_to_the_page_asked_for(web: WebClient, admin: Credentials) -> None:
    web.get("/login?next=/team")
    response = web.post("/login?next=/team", {"email": admin.email, "password": admin.password})
    assert response.headers["Location"] == "/team"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:x"])
def test_sign_in_never_sends_people_to_another_site(
    web: WebClient, admin: Credentials, target: str
) -> None:
    response = web.post(f"/login?next={target}", {"email": admin.email, "password": admin.password})
    assert response.headers["Location"] == "/inbox"


def test_sign_in_starts_a_new_session(web: WebClient, admin: Credentials) -> None:
    web.get("/login")
    with web.client.session_transaction() as session:
        session["planted"] = "by someone else"
        before = session.get("csrf_token")
    web.login(admin)
    with web.client.session_transaction() as session:
        assert "planted" not in session
        assert session.get("csrf_token") not in (None, before)


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    web: WebClient, admin: Credentials
) -> None:
    for _ in range(5):
        assert web.post("/login", {"email": admin.email, "password": "wrong"}).status_code == 401
    response = web.post("/login", {"email": admin.email, "password": admin.password})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text


def test_repeated_failures_from_one_address_lock_it(app: Flask, web: WebClient) -> None:
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    for n in range(3):
        web.post("/login", {"email": f"guess{n}@example.com", "password": "wrong"})
    response = web.post("/login", {"email": "another@example.com", "password": "wrong"})
    assert response.status_code == 429


def test_throttling_holds_across_app_processes(
    app: Flask, app_factory: Callable[..., Flask], admin: Credentials
) -> None:
    """Two app instances on one database (two gunicorn workers) share the count."""
    other = app_factory()
    first, second = WebClient(app.test_client()), WebClient(other.test_client())
    for client in (first, second, first, second, first):
        client.post("/login", {"email": admin.email, "password": "wrong"})
    response = second.post("/login", {"email": admin.email, "password": admin.password})
    assert response.status_code == 429


def test_a_lock_lifts_after_the_lockout_window(app: Flask, admin: Credentials) -> None:
    policy = accounts.ThrottlePolicy(per_account=2)
    with app.app_context():
        start = accounts.utcnow()
        for _ in range(2):
            with pytest.raises(accounts.InvalidCredentialsError):
                accounts.authenticate(
                    db.session,
                    email=admin.email,
                    password="x",
                    address="a",
                    policy=policy,
                    now=start,
                )
        with pytest.raises(accounts.SignInThrottledError):
            accounts.authenticate(
                db.session,
                email=admin.email,
                password=admin.password,
                address="a",
                policy=policy,
                now=start,
            )
        later = start + policy.lockout
        user = accounts.authenticate(
            db.session,
            email=admin.email,
            password=admin.password,
            address="a",
            policy=policy,
            now=later,
        )
        assert user.email == admin.email


def test_a_deactivated_person_is_signed_out_at_once(
    app: Flask, admin_web: WebClient, agent_web: WebClient, agent: Credentials
) -> None:
    assert agent_web.get("/inbox").status_code == 200
    admin_web.post(f"/team/{agent.id}/deactivate")
    assert agent_web.get("/inbox").status_code == 302
    again = WebClient(app.test_client())
    assert again.login(agent).status_code == 401


def test_a_password_reset_ends_the_persons_sessions(
    admin_web: WebClient, agent_web: WebClient, agent: Credentials, app: Flask
) -> None:
    admin_web.post(f"/team/{agent.id}/password", {"password": "a brand new secret"})
    assert agent_web.get("/inbox").status_code == 302
    fresh = WebClient(app.test_client())
    assert fresh.login(agent).status_code == 401
    assert fresh.login(agent, password="a brand new secret").status_code == 302


def test_behind_a_trusted_proxy_each_client_address_counts_alone(
    app_factory: Callable[..., Flask],
) -> None:
    app = app_factory(TRUSTED_PROXIES=1, LOGIN_MAX_FAILURES_PER_ADDRESS=2)
    web = WebClient(app.test_client())

    def attempt(address: str) -> int:
        forwarded = {"X-Forwarded-For": address}
        return web.post(
            "/login", {"email": "x@example.com", "password": "x"}, headers=forwarded
        ).status_code

    assert attempt("203.0.113.7") == attempt("203.0.113.7") == 401
    assert attempt("203.0.113.7") == 429
    assert attempt("198.51.100.1") == 401  # another client behind the same proxy
