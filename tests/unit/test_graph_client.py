"""The Graph and Login clients against the sandbox: shapes in, typed errors out."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from flask import Flask

from tests.facebook import ACME_SUPPORT, MIA, PAULA
from tests.unit.test_sandbox import CALLBACK, SCOPES
from webapp.blueprints.sandbox.world import SandboxWorld
from webapp.facebook import errors
from webapp.facebook.graph import SUBSCRIBED_FIELDS, GraphClient
from webapp.facebook.login import SCOPES as LOGIN_SCOPES
from webapp.facebook.login import FacebookLogin


@pytest.fixture
def sandbox(app: Flask) -> SandboxWorld:
    return app.extensions["facebook_sandbox"]


@pytest.fixture
def graph(app: Flask) -> Iterator[GraphClient]:
    """The client, reaching the sandbox through httpx's WSGI transport."""
    client = GraphClient(
        graph_url="http://pagedesk.test/sandbox/facebook/graph",
        version="v25.0",
        app_id=app.config["FACEBOOK_APP_ID"],
        app_secret=app.config["FACEBOOK_APP_SECRET"],
        transport=httpx.WSGITransport(app=app),
    )
    yield client
    client.close()


def long_lived(
    sandbox: SandboxWorld,
    graph: GraphClient,
    app: Flask,
    user: str = MIA,
    scopes: list[str] = SCOPES,
) -> str:
    code = sandbox.issue_code(user_id=user, redirect_uri=CALLBACK, scopes=scopes)
    short = graph.request("POST", "oauth/access_token", token="", data={
        "code": code, "redirect_uri": CALLBACK, "client_id": app.config["FACEBOOK_APP_ID"],
        "client_secret": app.config["FACEBOOK_APP_SECRET"]})  # fmt: skip
    return graph.exchange_for_long_lived(short["access_token"]).access_token


def test_pages_follow_paging_to_the_end(
    app: Flask, sandbox: SandboxWorld, graph: GraphClient
) -> None:
    pages = graph.pages(long_lived(sandbox, graph, app, PAULA))
    assert len(pages) == 30
    assert all(page.fully_administered and page.access_token for page in pages)
    assert "access_token" not in repr(pages[0])


def test_debug_token_reads_never_as_none(
    app: Flask, sandbox: SandboxWorld, graph: GraphClient
) -> None:
    user = long_lived(sandbox, graph, app)
    page = next(p for p in graph.pages(user) if p.id == ACME_SUPPORT)
    info = graph.debug_token(page.access_token)
    assert info.is_valid
    assert info.type == "PAGE"
    assert info.profile_id == ACME_SUPPORT
    assert info.expires_at is None
    assert info.data_access_expires_at is not None
    assert (info.data_access_expires_at - datetime.now(UTC)).days == 89


def test_subscribe_read_and_unsubscribe(
    app: Flask, sandbox: SandboxWorld, graph: GraphClient
) -> None:
    page = next(p for p in graph.pages(long_lived(sandbox, graph, app)) if p.id == ACME_SUPPORT)
    graph.subscribe_app(page.id, page.access_token)
    assert graph.subscribed_fields(page.id, page.access_token) == SUBSCRIBED_FIELDS
    graph.unsubscribe_app(page.id, page.access_token)
    assert graph.subscribed_fields(page.id, page.access_token) == ()


@pytest.mark.parametrize(
    ("knob", "problem"),
    [
        (lambda s: s.change_password(MIA), errors.TokenProblem.PASSWORD_CHANGED),
        (lambda s: s.remove_app(MIA), errors.TokenProblem.APP_REMOVED),
        (lambda s: s.set_tasks(MIA, ACME_SUPPORT, []), errors.TokenProblem.NO_ROLE),
        (lambda s: s.advance_clock(91 * 86400), errors.TokenProblem.EXPIRED),
    ],
)
def test_dead_tokens_raise_token_invalid_with_the_cause(
    app: Flask, sandbox: SandboxWorld, graph: GraphClient, knob: Any, problem: errors.TokenProblem
) -> None:
    page = next(p for p in graph.pages(long_lived(sandbox, graph, app)) if p.id == ACME_SUPPORT)
    knob(sandbox)
    with pytest.raises(errors.TokenInvalidError) as raised:
        graph.subscribe_app(page.id, page.access_token)
    assert raised.value.code == 190
    assert raised.value.problem is problem
    assert raised.value.fbtrace_id
    assert page.access_token not in str(raised.value)


def test_a_missing_permission_and_a_bad_request(
    app: Flask, sandbox: SandboxWorld, graph: GraphClient
) -> None:
    narrow = long_lived(sandbox, graph, app, scopes=["pages_show_list"])
    page = next(p for p in graph.pages(narrow) if p.id == ACME_SUPPORT)
    with pytest.raises(errors.PermissionMissingError):
        graph.subscribe_app(page.id, page.access_token)
    full = next(p for p in graph.pages(long_lived(sandbox, graph, app)) if p.id == ACME_SUPPORT)
    with pytest.raises(errors.BadRequestError):
        graph.subscribe_app(full.id, full.access_token, fields=("gossip",))


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (
            400,
            {"error": {"code": 4, "message": "(#4) Application request limit reached"}},
            errors.RateLimitedError,
        ),
        (400, {"error": {"code": 613, "message": "Calls exceeded"}}, errors.RateLimitedError),
        (400, {"error": {"code": 32, "message": "Page request limit"}}, errors.RateLimitedError),
        (
            500,
            {"error": {"code": 2, "message": "Service temporarily unavailable"}},
            errors.TransientError,
        ),
        (
            400,
            {"error": {"code": 1, "message": "An unknown error occurred"}},
            errors.TransientError,
        ),
        (503, "<html>busy</html>", errors.TransientError),
        (
            403,
            {"error": {"code": 10, "message": "(#10) Permission denied"}},
            errors.PermissionMissingError,
        ),
        (400, {"error": {"code": 102, "message": "Session key invalid"}}, errors.TokenInvalidError),
        (
            400,
            {"error": {"code": 100, "message": "(#100) Invalid parameter"}},
            errors.BadRequestError,
        ),
    ],
)
def test_facebook_errors_map_to_types(
    status: int, body: Any, kind: type[errors.GraphError]
) -> None:
    error = errors.error_from(status, body)
    assert type(error) is kind
    assert error.explanation


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_timeout_is_transient_and_leaks_no_token(silent_server: str) -> None:
    client = GraphClient(
        graph_url=silent_server, version="v25.0", app_id="1", app_secret="s", timeout=0.3
    )
    with pytest.raises(errors.TransientError) as raised:
        client.me("EAAsecret-token-value")
    client.close()
    assert "EAAsecret" not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_an_unreachable_facebook_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = GraphClient(
        graph_url=f"http://127.0.0.1:{port}", version="v25.0", app_id="1", app_secret="s"
    )
    with pytest.raises(errors.TransientError):
        client.me("EAAx")
    client.close()


# --- Facebook Login through Authlib --------------------------------------------------


def login_client(base: str) -> FacebookLogin:
    return FacebookLogin(dialog_url=f"{base}/www", graph_url=f"{base}/graph", version="v25.0",
                         app_id="900", app_secret="the-secret", redirect_uri=CALLBACK)  # fmt: skip


def test_the_dialog_url_asks_for_everything_messenger_and_comments_need() -> None:
    url = login_client("https://www.facebook.test").authorization_url("st4te")
    parts = urlsplit(url)
    assert parts.path == "/www/v25.0/dialog/oauth"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["client_id"] == "900"
    assert query["redirect_uri"] == CALLBACK
    assert query["state"] == "st4te"
    assert query["response_type"] == "code"
    assert set(query["scope"].split(",")) == set(LOGIN_SCOPES)
    assert {"pages_messaging", "pages_manage_metadata", "pages_show_list"} <= set(LOGIN_SCOPES)


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str]] = []
    answer: tuple[int, dict[str, Any]] = (200, {})

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        Recorder.seen.append((self.command, self.path, body))
        status, payload = Recorder.answer
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.seen = []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_the_code_exchange_puts_the_secret_in_the_post_body(recorder: str) -> None:
    Recorder.answer = (200, {"access_token": "EAAuser", "token_type": "bearer", "expires_in": 3600})
    grant = login_client(recorder).exchange_code("AQcode")
    assert grant.access_token == "EAAuser"
    assert grant.expires_in == 3600
    method, path, body = Recorder.seen[0]
    assert (method, path.split("?")[0]) == ("POST", "/graph/v25.0/oauth/access_token")
    form = {k: v[0] for k, v in parse_qs(body).items()}
    assert form["client_secret"] == "the-secret"
    assert form["code"] == "AQcode"
    assert form["redirect_uri"] == CALLBACK
    assert "the-secret" not in path


def test_a_refused_code_raises_the_typed_error(recorder: str) -> None:
    Recorder.answer = (
        400,
        {
            "error": {
                "message": "This authorization code has been used.",
                "type": "OAuthException",
                "code": 100,
                "error_subcode": 36009,
            }
        },
    )
    with pytest.raises(errors.BadRequestError) as raised:
        login_client(recorder).exchange_code("AQused")
    assert raised.value.subcode == 36009
