"""The built-in Facebook's contract: paths, shapes, lifetimes and error codes (reference §1-4)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.facebook import ACME_COMMUNITY, ACME_DRAFTS, ACME_SUPPORT, MIA, OTTO, PAULA
from tests.helpers import WebClient
from webapp.blueprints.sandbox.world import SandboxWorld

V = "/sandbox/facebook/graph/v25.0"
CALLBACK = "http://127.0.0.1:5000/channels/facebook/callback"
SCOPES = ["pages_show_list", "pages_messaging", "pages_manage_metadata", "pages_read_engagement"]


@pytest.fixture
def sandbox(app: Flask) -> SandboxWorld:
    return app.extensions["facebook_sandbox"]


@pytest.fixture
def fb(app: Flask) -> FlaskClient:
    return app.test_client()


def app_credentials(app: Flask) -> dict[str, str]:
    return {
        "client_id": app.config["FACEBOOK_APP_ID"],
        "client_secret": app.config["FACEBOOK_APP_SECRET"],
    }


def graph(
    fb: FlaskClient, path: str, token: str | None = None, method: str = "GET", **params: Any
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if method == "GET":
        response = fb.get(V + path, query_string=params, headers=headers)
    else:
        response = fb.open(V + path, method=method, data=params, headers=headers)
    return response.status_code, response.get_json()


def error_of(body: Any) -> dict[str, Any]:
    error = body["error"]
    assert set(error) >= {"message", "type", "code", "fbtrace_id"}
    return error


def user_token(
    app: Flask,
    sandbox: SandboxWorld,
    fb: FlaskClient,
    user_id: str = MIA,
    *,
    long_lived: bool = True,
    scopes: list[str] = SCOPES,
) -> str:
    code = sandbox.issue_code(user_id=user_id, redirect_uri=CALLBACK, scopes=scopes)
    status, body = graph(
        fb,
        "/oauth/access_token",
        method="POST",
        code=code,
        redirect_uri=CALLBACK,
        **app_credentials(app),
    )
    assert status == 200, body
    if not long_lived:
        return body["access_token"]
    status, body = graph(
        fb,
        "/oauth/access_token",
        grant_type="fb_exchange_token",
        fb_exchange_token=body["access_token"],
        **app_credentials(app),
    )
    assert status == 200, body
    return body["access_token"]


def page_token(fb: FlaskClient, token: str, page_id: str = ACME_SUPPORT) -> str:
    _, body = graph(fb, "/me/accounts", token)
    return next(p["access_token"] for p in body["data"] if p["id"] == page_id)


def debug(app: Flask, fb: FlaskClient, token: str) -> dict[str, Any]:
    app_token = f"{app.config['FACEBOOK_APP_ID']}|{app.config['FACEBOOK_APP_SECRET']}"
    status, body = graph(fb, "/debug_token", app_token, input_token=token)
    assert status == 200
    return body["data"]


# --- The Login dialog ---------------------------------------------------------


def dialog_params(app: Flask, **changes: str) -> dict[str, str]:
    return {
        "client_id": app.config["FACEBOOK_APP_ID"],
        "redirect_uri": CALLBACK,
        "state": "s-1",
        "scope": ",".join(SCOPES),
        "response_type": "code",
        **changes,
    }


def test_the_dialog_shows_the_app_the_permissions_and_the_people(
    app: Flask, fb: FlaskClient
) -> None:
    page = fb.get("/sandbox/facebook/www/v25.0/dialog/oauth", query_string=dialog_params(app))
    assert page.status_code == 200
    assert "Log in to Pagedesk" in page.text
    assert "Manage and access Page conversations in Messenger" in page.text
    assert "Mia Manager" in page.text
    assert "Paula Pages" in page.text


@pytest.mark.parametrize(
    ("change", "title"),
    [
        ({"client_id": "42"}, "Invalid App ID"),
        ({"redirect_uri": "https://evil.example/cb"}, "URL Blocked"),
        ({"scope": "pages_messaging,read_minds"}, "Invalid Scopes"),
    ],
)
def test_a_bad_dialog_request_gets_an_error_page_not_a_redirect(
    app: Flask, fb: FlaskClient, change: dict[str, str], title: str
) -> None:
    page = fb.get(
        "/sandbox/facebook/www/v25.0/dialog/oauth", query_string=dialog_params(app, **change)
    )
    assert page.status_code == 400
    assert title in page.text
    assert "Location" not in page.headers


def dialog_post(app: Flask, **form: str) -> str:
    """Submit the dialog as a person would (its form carries a CSRF token)."""
    url = "/sandbox/facebook/www/v25.0/dialog/oauth"
    web = WebClient(app.test_client())
    web.get(f"{url}?{urlencode(dialog_params(app))}")
    response = web.post(url, {**dialog_params(app), **form})
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def test_cancel_returns_facebooks_denial_to_the_redirect_uri(app: Flask, fb: FlaskClient) -> None:
    location = dialog_post(app, cancel="1")
    assert location.startswith(CALLBACK + "?")
    assert location.endswith("#_=_")
    query = parse_qs(urlsplit(location).query)
    assert query == {
        "error": ["access_denied"],
        "error_code": ["200"],
        "error_description": ["Permissions error"],
        "error_reason": ["user_denied"],
        "state": ["s-1"],
    }


def test_allow_returns_a_code_and_the_state(app: Flask, fb: FlaskClient) -> None:
    query = parse_qs(urlsplit(dialog_post(app, allow="1", user_id=OTTO)).query)
    assert query["state"] == ["s-1"]
    assert query["code"][0].startswith("AQ")


# --- Codes and user tokens ------------------------------------------------------


def test_a_code_gives_a_short_lived_user_token_once(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    code = sandbox.issue_code(user_id=MIA, redirect_uri=CALLBACK, scopes=SCOPES)
    status, body = graph(
        fb, "/oauth/access_token", code=code, redirect_uri=CALLBACK, **app_credentials(app)
    )
    assert status == 200
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    status, body = graph(
        fb, "/oauth/access_token", code=code, redirect_uri=CALLBACK, **app_credentials(app)
    )
    assert status == 400
    assert (error_of(body)["code"], error_of(body)["error_subcode"]) == (100, 36009)


def test_a_code_expires_after_ten_minutes(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    code = sandbox.issue_code(user_id=MIA, redirect_uri=CALLBACK, scopes=SCOPES)
    sandbox.advance_clock(601)
    _, body = graph(
        fb, "/oauth/access_token", code=code, redirect_uri=CALLBACK, **app_credentials(app)
    )
    assert (error_of(body)["code"], error_of(body)["error_subcode"]) == (100, 36007)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"redirect_uri": "http://other/cb"}, 100),
        ({"client_secret": "wrong"}, 1),
        ({"client_id": "42"}, 101),
    ],
)
def test_a_code_exchange_checks_the_app_and_redirect_uri(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient, change: dict[str, str], code: int
) -> None:
    grant = sandbox.issue_code(user_id=MIA, redirect_uri=CALLBACK, scopes=SCOPES)
    params = {"code": grant, "redirect_uri": CALLBACK, **app_credentials(app), **change}
    status, body = graph(fb, "/oauth/access_token", method="POST", **params)
    assert status == 400
    assert error_of(body)["code"] == code


def test_long_lived_user_tokens_last_sixty_days(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    token = user_token(app, sandbox, fb)
    data = debug(app, fb, token)
    assert data["type"] == "USER"
    assert data["is_valid"] is True
    assert data["app_id"] == app.config["FACEBOOK_APP_ID"]
    assert data["application"] == "Pagedesk"
    assert data["user_id"] == MIA
    assert data["expires_at"] - data["issued_at"] == 5_183_944  # about 60 days
    # Data access counts from the login, a moment before this token was issued.
    assert 90 * 86400 - 5 <= data["data_access_expires_at"] - data["issued_at"] <= 90 * 86400
    assert set(SCOPES) <= set(data["scopes"])


# --- Pages and page tokens -------------------------------------------------------


def test_me_and_accounts(app: Flask, sandbox: SandboxWorld, fb: FlaskClient) -> None:
    token = user_token(app, sandbox, fb)
    assert graph(fb, "/me", token) == (200, {"id": MIA, "name": "Mia Manager"})
    status, body = graph(fb, "/me/accounts", token)
    assert status == 200
    pages = {p["id"]: p for p in body["data"]}
    assert set(pages) == {ACME_SUPPORT, ACME_COMMUNITY, ACME_DRAFTS}
    support = pages[ACME_SUPPORT]
    assert set(support) >= {
        "id",
        "name",
        "access_token",
        "category",
        "category_list",
        "tasks",
        "is_published",
        "picture",
    }
    assert "MANAGE" in support["tasks"]
    assert "MANAGE" not in pages[ACME_COMMUNITY]["tasks"]
    assert pages[ACME_DRAFTS]["is_published"] is False
    assert "next" not in body["paging"]


def test_accounts_are_paged_with_cursors(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    token = user_token(app, sandbox, fb, PAULA)
    _, first = graph(fb, "/me/accounts", token)
    assert len(first["data"]) == 25
    assert set(first["paging"]["cursors"]) == {"before", "after"}
    assert "after=" in first["paging"]["next"]
    _, second = graph(fb, "/me/accounts", token, after=first["paging"]["cursors"]["after"])
    assert len(second["data"]) == 5
    assert "next" not in second["paging"]
    ids = [p["id"] for p in first["data"] + second["data"]]
    assert len(set(ids)) == 30


def test_a_page_token_from_a_long_lived_user_token_never_expires(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    user = user_token(app, sandbox, fb)
    token = page_token(fb, user)
    data = debug(app, fb, token)
    assert data["type"] == "PAGE"
    assert data["profile_id"] == ACME_SUPPORT
    assert data["expires_at"] == 0
    assert data["data_access_expires_at"] == debug(app, fb, user)["data_access_expires_at"]
    sandbox.advance_clock(30 * 86400)
    assert graph(fb, "/me", token)[0] == 200


def test_a_page_token_from_a_short_lived_user_token_dies_after_an_hour(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    token = page_token(fb, user_token(app, sandbox, fb, long_lived=False))
    data = debug(app, fb, token)
    assert data["expires_at"] - data["issued_at"] == 3600
    sandbox.advance_clock(3601)
    status, body = graph(fb, "/me", token)
    assert status == 400
    assert (error_of(body)["code"], error_of(body)["error_subcode"]) == (190, 463)


@pytest.mark.parametrize(
    ("knob", "subcode"),
    [
        (lambda s: s.change_password(MIA), 460),
        (lambda s: s.remove_app(MIA), 458),
        (lambda s: s.set_tasks(MIA, ACME_SUPPORT, []), 492),
        (lambda s: s.set_data_access_expires_at(MIA, time.time() - 1), 463),
    ],
    ids=["password changed", "app removed", "no role", "data access lapsed"],
)
def test_page_tokens_die_as_facebooks_do(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient, knob: Any, subcode: int
) -> None:
    token = page_token(fb, user_token(app, sandbox, fb))
    knob(sandbox)
    status, body = graph(fb, f"/{ACME_SUPPORT}/subscribed_apps", token)
    assert status == 400
    error = error_of(body)
    assert (error["code"], error["error_subcode"], error["type"]) == (
        190,
        subcode,
        "OAuthException",
    )
    data = debug(app, fb, token)
    assert data["is_valid"] is False
    assert (data["error"]["code"], data["error"]["subcode"]) == (190, subcode)


def test_losing_full_admin_keeps_the_token_but_not_the_manage_task(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    token = user_token(app, sandbox, fb)
    page = page_token(fb, token)
    sandbox.revoke_task(MIA, ACME_SUPPORT, "MANAGE")
    _, body = graph(fb, "/me/accounts", token)
    support = next(p for p in body["data"] if p["id"] == ACME_SUPPORT)
    assert "MANAGE" not in support["tasks"]
    assert debug(app, fb, page)["is_valid"] is True


def test_unpublishing_and_adding_pages(app: Flask, sandbox: SandboxWorld, fb: FlaskClient) -> None:
    token = user_token(app, sandbox, fb, OTTO)
    sandbox.set_published("200000000000004", False)
    new_id = sandbox.add_page(OTTO, "Otto's Second Shop")
    _, body = graph(fb, "/me/accounts", token)
    pages = {p["id"]: p for p in body["data"]}
    assert pages["200000000000004"]["is_published"] is False
    assert pages[new_id]["name"] == "Otto's Second Shop"
    assert graph(fb, f"/{new_id}", token, fields="id,is_published")[1] == {
        "id": new_id,
        "is_published": True,
    }
    assert graph(fb, f"/{new_id}", token)[1] == {"id": new_id, "name": "Otto's Second Shop"}


def test_debug_token_needs_the_app_token_and_knows_unknown_tokens(
    app: Flask, fb: FlaskClient
) -> None:
    status, body = graph(fb, "/debug_token", "not-the-app", input_token="x")
    assert status == 400
    assert error_of(body)["code"] == 190
    data = debug(app, fb, "EAAnever-issued")
    assert data["is_valid"] is False
    assert data["error"]["code"] == 190


# --- Installing the app on a page ----------------------------------------------------


def test_subscribed_apps_install_read_and_remove(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    token = page_token(fb, user_token(app, sandbox, fb))
    assert graph(fb, f"/{ACME_SUPPORT}/subscribed_apps", token) == (200, {"data": []})
    status, body = graph(
        fb,
        f"/{ACME_SUPPORT}/subscribed_apps",
        token,
        method="POST",
        subscribed_fields="messages,feed",
    )
    assert (status, body) == (200, {"success": True})
    _, body = graph(fb, f"/{ACME_SUPPORT}/subscribed_apps", token)
    assert body["data"][0]["id"] == app.config["FACEBOOK_APP_ID"]
    assert body["data"][0]["subscribed_fields"] == ["messages", "feed"]
    assert graph(fb, f"/{ACME_SUPPORT}/subscribed_apps", token, method="DELETE") == (
        200,
        {"success": True},
    )
    assert graph(fb, f"/{ACME_SUPPORT}/subscribed_apps", token)[1] == {"data": []}


def test_subscribed_apps_refuses_what_facebook_refuses(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient
) -> None:
    user = user_token(app, sandbox, fb)
    page = page_token(fb, user)
    assert (
        error_of(
            graph(
                fb,
                f"/{ACME_SUPPORT}/subscribed_apps",
                user,
                method="POST",
                subscribed_fields="feed",
            )[1]
        )["code"]
        == 210
    )
    assert (
        error_of(graph(fb, f"/{ACME_SUPPORT}/subscribed_apps", page, method="POST")[1])["code"]
        == 100
    )
    bad = graph(
        fb,
        f"/{ACME_SUPPORT}/subscribed_apps",
        page,
        method="POST",
        subscribed_fields="messages,gossip",
    )[1]
    assert "subscribed_fields[1]" in error_of(bad)["message"]
    narrow = page_token(fb, user_token(app, sandbox, fb, scopes=["pages_show_list"]))
    assert (
        error_of(
            graph(
                fb,
                f"/{ACME_SUPPORT}/subscribed_apps",
                narrow,
                method="POST",
                subscribed_fields="feed",
            )[1]
        )["code"]
        == 200
    )


def test_tokens_and_versions_are_checked(fb: FlaskClient) -> None:
    assert error_of(graph(fb, "/me")[1])["code"] == 104
    assert error_of(graph(fb, "/me", "EAAgarbage")[1])["code"] == 190
    status, body = (
        fb.get("/sandbox/facebook/graph/v2x/me").status_code,
        fb.get("/sandbox/facebook/graph/v2x/me").get_json(),
    )
    assert status == 400
    assert error_of(body)["code"] == 2500
