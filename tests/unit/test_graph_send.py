"""The Graph client's replying calls against the sandbox over HTTP: results in, typed
errors out, and a lost answer told apart from one that never left (reference §6, §8.2)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from flask import Flask

from tests.facebook import ACME_SUPPORT
from tests.unit.test_graph_client import long_lived
from tests.unit.test_sandbox_send import CORA, DAY, comment_by
from webapp.blueprints.sandbox.world import SandboxWorld
from webapp.facebook import errors
from webapp.facebook.graph import GraphClient, SendResult
from webapp.facebook.login import SCOPES as LOGIN_SCOPES
from webapp.integrations import facebook_kit

TEXT = {"messaging_type": "RESPONSE", "text": "Your parcel left today."}


@pytest.fixture
def sandbox(app: Flask) -> SandboxWorld:
    return app.extensions["facebook_sandbox"]


def client_for(app: Flask, **options: Any) -> GraphClient:
    return GraphClient(
        graph_url="http://pagedesk.test/sandbox/facebook/graph", version="v25.0",
        app_id=app.config["FACEBOOK_APP_ID"], app_secret=app.config["FACEBOOK_APP_SECRET"],
        transport=httpx.WSGITransport(app=app), **options,
    )  # fmt: skip


@pytest.fixture
def graph(app: Flask) -> Iterator[GraphClient]:
    """The client, reaching the sandbox through httpx's WSGI transport."""
    client = client_for(app)
    yield client
    client.close()


@pytest.fixture
def token(app: Flask, sandbox: SandboxWorld, graph: GraphClient) -> str:
    """Acme Support's page token with every permission Pagedesk asks for; app installed."""
    user = long_lived(sandbox, graph, app, scopes=list(LOGIN_SCOPES))
    page = next(p for p in graph.pages(user) if p.id == ACME_SUPPORT)
    graph.subscribe_app(page.id, page.access_token)
    sandbox.record_action(ACME_SUPPORT, CORA)
    return page.access_token


def to_cora(graph: GraphClient, token: str, **options: Any) -> SendResult:
    return graph.send_message(ACME_SUPPORT, token, recipient={"id": CORA}, **{**TEXT, **options})


# --- Every method -----------------------------------------------------------------------


def test_send_message_returns_the_mid_and_the_recipient(
    sandbox: SandboxWorld, graph: GraphClient, token: str
) -> None:
    result = to_cora(graph, token, metadata="pagedesk:reply:1")
    assert result == SendResult(message_id=result.message_id, recipient_id=CORA)
    assert result.message_id.startswith("m_")
    [got] = sandbox.received(ACME_SUPPORT, CORA)
    assert (got["mid"], got["metadata"], got["tag"]) == (
        result.message_id,
        "pagedesk:reply:1",
        None,
    )


def test_a_human_agent_tag_travels_with_the_send(
    sandbox: SandboxWorld, graph: GraphClient, token: str
) -> None:
    sandbox.set_page_feature(ACME_SUPPORT, human_agent=True)
    sandbox.advance_clock(3 * DAY)
    to_cora(graph, token, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert sandbox.received(ACME_SUPPORT, CORA)[0]["tag"] == "HUMAN_AGENT"


def test_a_private_reply_leaves_out_the_messaging_type(
    sandbox: SandboxWorld, graph: GraphClient, token: str
) -> None:
    comment_id, old = comment_by(sandbox), comment_by(sandbox, words="Still open?")
    result = graph.send_message(
        ACME_SUPPORT, token, recipient={"comment_id": comment_id}, messaging_type=None,
        text="We've sent you the details here.",
    )  # fmt: skip
    assert result.recipient_id == CORA
    assert sandbox.received(ACME_SUPPORT, CORA)[0]["messaging_type"] is None
    with pytest.raises(errors.AlreadyRepliedPrivatelyError) as raised:
        graph.send_message(ACME_SUPPORT, token, recipient={"comment_id": comment_id},
                           messaging_type=None, text="Again")  # fmt: skip
    assert not raised.value.retryable
    sandbox.advance_clock(8 * DAY)
    with pytest.raises(errors.CannotReplyPrivatelyError):
        graph.send_message(ACME_SUPPORT, token, recipient={"comment_id": old},
                           messaging_type=None, text="Hi")  # fmt: skip


def test_upload_once_then_send_by_attachment_id(
    sandbox: SandboxWorld, graph: GraphClient, token: str
) -> None:
    attachment_id = graph.upload_attachment(
        ACME_SUPPORT, token, kind="image", filename="receipt.png", content=b"\x89PNG...",
        mimetype="image/png",
    )  # fmt: skip
    assert attachment_id.isdigit()
    attachment = {"type": "image", "payload": {"attachment_id": attachment_id}}
    result = to_cora(graph, token, text=None, attachment=attachment)
    [got] = sandbox.received(ACME_SUPPORT, CORA)
    assert got["mid"] == result.message_id
    assert got["attachments"][0]["type"] == "image"
    reusable = {
        "type": "file",
        "payload": {"url": "https://desk.example/a.pdf", "is_reusable": True},
    }
    assert to_cora(graph, token, text=None, attachment=reusable).attachment_id


def test_reply_hide_show_and_delete_a_comment(
    sandbox: SandboxWorld, graph: GraphClient, token: str
) -> None:
    comment_id = comment_by(sandbox)
    new_id = graph.reply_to_comment(comment_id, token, text="Yes, 9 to 5.")
    [thread] = sandbox.comments_of(ACME_SUPPORT, CORA)
    assert [(r["id"], r["message"]) for r in thread["replies"]] == [(new_id, "Yes, 9 to 5.")]
    graph.set_comment_hidden(comment_id, token, hidden=True)
    assert sandbox.comment(comment_id)["hidden"] is True
    graph.set_comment_hidden(comment_id, token, hidden=False)
    assert sandbox.comment(comment_id)["hidden"] is False
    graph.delete_comment(comment_id, token)
    assert sandbox.comment(comment_id)["deleted"] is True
    with pytest.raises(errors.BadRequestError) as raised:
        graph.delete_comment(comment_id, token)
    assert (raised.value.code, raised.value.subcode) == (100, 33)


# --- Every error class, from the sandbox -----------------------------------------------------


def test_what_facebook_refuses_arrives_typed(
    app: Flask, sandbox: SandboxWorld, graph: GraphClient, token: str
) -> None:
    with pytest.raises(errors.BadRequestError) as too_long:
        to_cora(graph, token, text="x" * 2000)
    assert type(too_long.value) is errors.BadRequestError
    with pytest.raises(errors.RetiredTagError) as retired:
        to_cora(graph, token, messaging_type="MESSAGE_TAG", tag="POST_PURCHASE_UPDATE")
    assert retired.value.explanation == "Facebook no longer accepts this message tag."
    with pytest.raises(errors.NoMatchingUserError):
        graph.send_message(ACME_SUPPORT, token, recipient={"id": "7123"}, **TEXT)
    sandbox.set_blocked(ACME_SUPPORT, CORA)
    with pytest.raises(errors.RecipientUnavailableError) as blocked:
        to_cora(graph, token)
    assert "isn't available on Messenger" in blocked.value.explanation
    sandbox.set_blocked(ACME_SUPPORT, CORA, False)
    sandbox.advance_clock(DAY + 60)
    with pytest.raises(errors.WindowClosedError) as closed:
        to_cora(graph, token)
    assert not closed.value.retryable
    assert "24-hour reply window has closed" in closed.value.explanation
    with pytest.raises(errors.BadRequestError) as unapproved:
        to_cora(graph, token, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
    assert type(unapproved.value) is errors.BadRequestError  # not a retired tag


@pytest.mark.parametrize(
    ("mode", "kind", "retryable"),
    [("transient", errors.TransientError, True), ("rate_limit", errors.RateLimitedError, True),
     ("permanent", errors.RecipientUnavailableError, False),
     ("dead_token", errors.TokenInvalidError, False),
     ("ambiguous", errors.OutcomeUnknownError, False)],
)  # fmt: skip
def test_failure_knobs_arrive_typed(
    sandbox: SandboxWorld, graph: GraphClient, token: str, mode: str,
    kind: type[errors.GraphError], retryable: bool,
) -> None:  # fmt: skip
    sandbox.fail_sends(ACME_SUPPORT, mode)
    with pytest.raises(kind) as raised:
        to_cora(graph, token)
    assert type(raised.value) is kind
    assert raised.value.retryable is retryable
    assert raised.value.explanation
    assert token not in str(raised.value)
    delivered = len(sandbox.received(ACME_SUPPORT, CORA))
    assert delivered == (1 if mode == "ambiguous" else 0)  # lost answer, sent message
    assert to_cora(graph, token).message_id


def test_the_password_knob_names_the_problem(
    sandbox: SandboxWorld, graph: GraphClient, token: str
) -> None:
    sandbox.fail_sends(ACME_SUPPORT, "dead_token")
    with pytest.raises(errors.TokenInvalidError) as raised:
        graph.reply_to_comment(comment_by(sandbox), token, text="Hi")
    assert raised.value.problem is errors.TokenProblem.PASSWORD_CHANGED


def test_without_pages_messaging_the_permission_is_missing(
    app: Flask, sandbox: SandboxWorld, graph: GraphClient
) -> None:
    user = long_lived(sandbox, graph, app, scopes=["pages_show_list", "pages_manage_metadata"])
    page = next(p for p in graph.pages(user) if p.id == ACME_SUPPORT)
    with pytest.raises(errors.PermissionMissingError):
        graph.send_message(ACME_SUPPORT, page.access_token, recipient={"id": CORA}, **TEXT)


# --- Every code, from Facebook's tables ---------------------------------------------------


def err(code: int, subcode: int | None = None, message: str = "x") -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "type": "OAuthException"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (400, err(10, 2018278), errors.WindowClosedError),
        (400, err(10, 2018065), errors.WindowClosedError),
        (400, err(1545041), errors.WindowClosedError),
        (400, err(200, 1545041), errors.RecipientUnavailableError),
        (400, err(551), errors.RecipientUnavailableError),
        (400, err(551, 1545041), errors.RecipientUnavailableError),
        (400, err(10, 2018108), errors.RecipientUnavailableError),
        (400, err(10900), errors.AlreadyRepliedPrivatelyError),
        (400, err(10903), errors.CannotReplyPrivatelyError),
        (400, err(368, 1404082), errors.PolicyBlockedError),
        (400, err(100, None, "(#100) Tag ACCOUNT_UPDATE is not supported"), errors.RetiredTagError),
        (400, err(100, None, "(#100) This message tag was retired"), errors.RetiredTagError),
        (400, err(100, 2018001), errors.NoMatchingUserError),
        (500, err(1, 1357046), errors.OutcomeUnknownError),
        (500, err(1), errors.TransientError),
        (500, err(2), errors.TransientError),
        (400, err(1200), errors.TransientError),
        (502, "<html>bad gateway</html>", errors.TransientError),
        *[(400, err(code), errors.RateLimitedError) for code in (4, 17, 32, 613, 80001, 341)],
        (400, err(190, 463), errors.TokenInvalidError),
        (400, err(102), errors.TokenInvalidError),
        (403, err(10), errors.PermissionMissingError),
        (400, err(200), errors.PermissionMissingError),
        (400, err(230), errors.PermissionMissingError),
        (400, err(100, 2018276, "(#100) Cannot tag messages with 'HUMAN_AGENT' without prior"
                  " approval"), errors.BadRequestError),
    ],
)  # fmt: skip
def test_codes_map_to_types_that_know_if_a_retry_helps(
    status: int, body: Any, kind: type[errors.GraphError]
) -> None:
    error = errors.error_from(status, body)
    assert type(error) is kind
    assert error.explanation
    assert error.retryable is (kind in (errors.TransientError, errors.RateLimitedError))


def test_a_lost_answer_is_not_transient() -> None:
    assert not issubclass(errors.OutcomeUnknownError, errors.TransientError)
    assert errors.PolicyBlockedError("x").explanation.startswith(
        "Facebook has temporarily blocked this page from sending"
    )


# --- Answers lost on the way back ---------------------------------------------------------


def test_a_read_timeout_after_sending_is_an_unknown_outcome(
    app: Flask, sandbox: SandboxWorld, graph: GraphClient, token: str, live_server: str
) -> None:
    app.config["BASE_URL"] = live_server  # the kit's Graph URL, and where webhooks go
    app.config["FACEBOOK_HTTP_TIMEOUT"] = 0.3
    sandbox.fail_sends(ACME_SUPPORT, "timeout", sleep=1.5)
    slow = facebook_kit(app).graph
    with pytest.raises(errors.OutcomeUnknownError) as raised:
        to_cora(slow, token)
    slow.close()
    assert not raised.value.retryable
    assert "may have been sent" in raised.value.explanation
    assert len(sandbox.received(ACME_SUPPORT, CORA)) == 1  # it was delivered all the same


@pytest.fixture
def hang_up() -> Iterator[str]:
    """A server that reads the request, then closes the connection without an answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def bare_client(url: str, timeout: float = 5.0) -> GraphClient:
    return GraphClient(graph_url=url, version="v25.0", app_id="1", app_secret="s", timeout=timeout)


def test_a_hang_up_after_sending_is_an_unknown_outcome_for_sends_only(hang_up: str) -> None:
    client = bare_client(hang_up)
    with pytest.raises(errors.OutcomeUnknownError):
        client.send_message("1", "EAAx", recipient={"id": "2"}, **TEXT)
    with pytest.raises(errors.OutcomeUnknownError):
        client.reply_to_comment("1_2", "EAAx", text="Hi")
    with pytest.raises(errors.TransientError):  # hiding twice does no harm: retry it
        client.set_comment_hidden("1_2", "EAAx", hidden=True)
    client.close()


def test_nothing_sent_when_facebook_cannot_be_reached_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = bare_client(f"http://127.0.0.1:{port}")
    with pytest.raises(errors.TransientError) as raised:
        client.send_message("1", "EAAx", recipient={"id": "2"}, **TEXT)
    assert raised.value.retryable
    client.close()
