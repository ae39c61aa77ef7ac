"""The sandbox's Send API and comment moderation at the edges (reference §5.5, §5.7, §6-8),
with the webhooks that follow caught on a real HTTP endpoint and their signatures checked."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.facebook import ACME_SUPPORT, OTTO
from tests.unit.test_sandbox import V, error_of, page_token, user_token
from webapp.blueprints.sandbox import simulator
from webapp.blueprints.sandbox.data import psid
from webapp.blueprints.sandbox.world import SandboxWorld
from webapp.facebook.graph import SUBSCRIBED_FIELDS
from webapp.facebook.login import SCOPES as LOGIN_SCOPES
from webapp.facebook.webhooks import sign

CORA, DAN = psid(ACME_SUPPORT, 1), psid(ACME_SUPPORT, 2)
MINUTE, HOUR, DAY = 60, 3600, 86400


class Hooks:
    """Webhook bodies as the app would receive them: raw bytes and the signature header."""

    def __init__(self) -> None:
        self.raw: list[tuple[bytes, str]] = []
        self.lock = threading.Lock()

    def wait(self, count: int) -> list[dict[str, Any]]:
        """The first ``count`` bodies, parsed, once that many have arrived."""
        deadline = time.monotonic() + 10
        while len(self.raw) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.raw) >= count, self.raw
        return [json.loads(raw) for raw, _ in self.raw[:count]]


@pytest.fixture
def hooks(app: Flask) -> Iterator[Hooks]:
    """A webhook endpoint on a loopback port; the sandbox's courier posts there."""
    caught = Hooks()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            with caught.lock:
                caught.raw.append((raw, self.headers.get("X-Hub-Signature-256", "")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield caught
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox(app: Flask) -> SandboxWorld:
    return app.extensions["facebook_sandbox"]


@pytest.fixture
def fb(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token(app: Flask, sandbox: SandboxWorld, fb: FlaskClient) -> str:
    """Acme Support's page token, with every permission Pagedesk asks for, app installed."""
    page = page_token(fb, user_token(app, sandbox, fb, scopes=list(LOGIN_SCOPES)))
    fields = ",".join(SUBSCRIBED_FIELDS)
    response = fb.post(
        f"{V}/{ACME_SUPPORT}/subscribed_apps", data={"subscribed_fields": fields},
        headers={"Authorization": f"Bearer {page}"},
    )  # fmt: skip
    assert response.status_code == 200
    return page


def send(fb: FlaskClient, token: str, page: str = ACME_SUPPORT, **body: Any) -> tuple[int, Any]:
    response = fb.post(
        f"{V}/{page}/messages", json=body, headers={"Authorization": f"Bearer {token}"}
    )
    return response.status_code, response.get_json()


def reply(fb: FlaskClient, token: str, words: str = "Thanks!", **body: Any) -> tuple[int, Any]:
    """A standard text reply to Cora."""
    return send(
        fb, token, recipient={"id": CORA}, messaging_type="RESPONSE",
        message={"text": words}, **body,
    )  # fmt: skip


def to_cora(fb: FlaskClient, token: str, message: dict[str, Any]) -> tuple[int, Any]:
    return send(fb, token, recipient={"id": CORA}, messaging_type="RESPONSE", message=message)


def refusal(status_body: tuple[int, Any]) -> tuple[int, int | None, str]:
    status, body = status_body
    assert status >= 400, body
    error = error_of(body)
    return error["code"], error.get("error_subcode"), error["message"]


def comment_by(sandbox: SandboxWorld, who: str = CORA, words: str = "Open on Sunday?") -> str:
    """A customer comments on the page's post (what the simulator does)."""
    comment_id = simulator.new_comment_id(ACME_SUPPORT)
    body = simulator.comment(
        ACME_SUPPORT, verb="add", comment_id=comment_id, sender=(who, "Cora Customer"),
        words=words,
    )  # fmt: skip
    sandbox.observe(ACME_SUPPORT, body)
    return comment_id


# --- The 24-hour window -------------------------------------------------------------------


def test_a_reply_a_minute_before_the_window_closes_is_delivered_echoed_and_signed(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient, token: str, hooks: Hooks
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.advance_clock(23 * HOUR + 59 * MINUTE)
    status, body = reply(fb, token, "Grüße! Your parcel left.", tag=None)
    assert status == 200, body
    assert set(body) == {"recipient_id", "message_id"}
    assert body["recipient_id"] == CORA

    [webhook] = hooks.wait(1)
    raw, signature = hooks.raw[0]
    assert signature == sign(raw, app.config["FACEBOOK_APP_SECRET"])
    assert b"Gr\\u00fc\\u00dfe" in raw  # ASCII-escaped, as Facebook signs it
    [entry] = webhook["entry"]
    assert webhook["object"] == "page"
    assert entry["id"] == ACME_SUPPORT
    echo, delivery = entry["messaging"]  # several events of one moment share a POST
    assert echo["sender"] == {"id": ACME_SUPPORT}
    assert echo["recipient"] == {"id": CORA}
    assert echo["message"]["is_echo"] is True
    assert echo["message"]["app_id"] == int(app.config["FACEBOOK_APP_ID"])
    assert echo["message"]["mid"] == body["message_id"]
    assert echo["message"]["text"] == "Grüße! Your parcel left."
    assert delivery["sender"] == {"id": CORA}
    assert delivery["delivery"]["mids"] == [body["message_id"]]
    assert isinstance(delivery["delivery"]["watermark"], int)
    [got] = sandbox.received(ACME_SUPPORT, CORA)
    assert (got["text"], got["messaging_type"], got["delivered"], got["read"]) == (
        "Grüße! Your parcel left.", "RESPONSE", True, False,
    )  # fmt: skip


def test_the_echo_carries_the_metadata(
    sandbox: SandboxWorld, fb: FlaskClient, token: str, hooks: Hooks
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    send(fb, token, recipient={"id": CORA}, messaging_type="UPDATE",
         message={"text": "Hi", "metadata": "pagedesk:reply:7"})  # fmt: skip
    [webhook] = hooks.wait(1)
    assert webhook["entry"][0]["messaging"][0]["message"]["metadata"] == "pagedesk:reply:7"


@pytest.mark.parametrize("kind", ["RESPONSE", "UPDATE"])
def test_a_minute_after_24_hours_the_window_is_closed(
    sandbox: SandboxWorld, fb: FlaskClient, token: str, kind: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.advance_clock(24 * HOUR + MINUTE)
    code, subcode, message = refusal(
        send(fb, token, recipient={"id": CORA}, messaging_type=kind, message={"text": "Hi"})
    )
    assert (code, subcode) == (10, 2018278)
    assert message.startswith("(#10) This message is sent outside of allowed window.")
    assert sandbox.received(ACME_SUPPORT, CORA) == []


def test_a_customer_who_never_wrote_cannot_be_messaged(fb: FlaskClient, token: str) -> None:
    assert refusal(reply(fb, token))[:2] == (10, 2018278)


def test_a_new_customer_action_reopens_the_window(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.advance_clock(3 * DAY)
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.advance_clock(23 * HOUR)
    assert reply(fb, token)[0] == 200


# --- Tags --------------------------------------------------------------------------------


def human_agent(fb: FlaskClient, token: str) -> tuple[int, Any]:
    return send(fb, token, recipient={"id": CORA}, messaging_type="MESSAGE_TAG",
                tag="HUMAN_AGENT", message={"text": "Sorry for the wait."})  # fmt: skip


def test_human_agent_needs_the_feature(sandbox: SandboxWorld, fb: FlaskClient, token: str) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.advance_clock(2 * DAY)
    code, _, message = refusal(human_agent(fb, token))
    assert code == 100
    assert message == "(#100) Cannot tag messages with 'HUMAN_AGENT' without prior approval"
    sandbox.set_page_feature(ACME_SUPPORT, human_agent=True)
    status, body = human_agent(fb, token)
    assert status == 200, body
    assert sandbox.received(ACME_SUPPORT, CORA)[0]["tag"] == "HUMAN_AGENT"


def test_human_agent_ends_seven_days_after_the_last_message(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.set_page_feature(ACME_SUPPORT, human_agent=True)
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.advance_clock(7 * DAY - MINUTE)
    assert human_agent(fb, token)[0] == 200
    sandbox.advance_clock(2 * MINUTE)
    assert refusal(human_agent(fb, token))[:2] == (10, 2018278)


def test_customer_feedback_only_with_its_template(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.advance_clock(2 * DAY)
    tagged = {"recipient": {"id": CORA}, "messaging_type": "MESSAGE_TAG",
              "tag": "CUSTOMER_FEEDBACK"}  # fmt: skip
    assert refusal(send(fb, token, message={"text": "Rate us"}, **tagged))[0] == 100
    template = {"type": "template", "payload": {"template_type": "customer_feedback",
                                                "title": "Rate us"}}  # fmt: skip
    assert send(fb, token, message={"attachment": template}, **tagged)[0] == 200


@pytest.mark.parametrize(
    "tag",
    ["ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "SHIPPING_UPDATE",
     "ISSUE_RESOLUTION"],
)  # fmt: skip
def test_retired_tags_are_error_100_even_inside_the_window(
    sandbox: SandboxWorld, fb: FlaskClient, token: str, tag: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    code, subcode, message = refusal(
        send(fb, token, recipient={"id": CORA}, messaging_type="MESSAGE_TAG", tag=tag,
             message={"text": "Your order shipped"})
    )  # fmt: skip
    assert (code, subcode) == (100, None)
    assert tag in message


def test_subscription_messages_need_the_news_page_index(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.advance_clock(30 * DAY)
    as_type = {"recipient": {"id": CORA}, "messaging_type": "NON_PROMOTIONAL_SUBSCRIPTION",
               "message": {"text": "Today's headlines"}}  # fmt: skip
    as_tag = {**as_type, "messaging_type": "MESSAGE_TAG", "tag": "NON_PROMOTIONAL_SUBSCRIPTION"}
    code, subcode, message = refusal(send(fb, token, **as_type))
    assert (code, subcode) == (10, 2018065)
    assert "outside of allowed window" in message
    sandbox.set_page_feature(ACME_SUPPORT, npi=True)
    assert send(fb, token, **as_type)[0] == 200
    assert send(fb, token, **as_tag)[0] == 200
    sandbox.set_page_feature(ACME_SUPPORT, npi=False)
    assert refusal(send(fb, token, **as_tag))[:2] == (10, 2018065)


# --- The body and the recipient -------------------------------------------------------------


def test_text_must_be_shorter_than_2000_characters(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    assert reply(fb, token, "x" * 1999)[0] == 200
    code, _, message = refusal(reply(fb, token, "x" * 2000))
    assert code == 100
    assert message == "(#100) Length of param message[text] must be less than or equal to 2000"


def test_what_the_send_api_refuses_as_a_bad_request(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    image = {"type": "image", "payload": {"url": "https://example.com/a.png"}}
    cases = [
        {"recipient": {"id": CORA}, "message": {"text": "no type"}},
        {"recipient": {"id": CORA}, "messaging_type": "RESPONSE",
         "message": {"text": "both", "attachment": image}},
        {"recipient": {"id": CORA}, "messaging_type": "RESPONSE", "message": {}},
        {"recipient": {"id": CORA}, "messaging_type": "SOMETIME", "message": {"text": "x"}},
        {"recipient": {}, "messaging_type": "RESPONSE", "message": {"text": "x"}},
    ]  # fmt: skip
    for body in cases:
        assert refusal(send(fb, token, **body))[0] == 100, body


def test_unknown_and_blocking_customers(sandbox: SandboxWorld, fb: FlaskClient, token: str) -> None:
    body = {"messaging_type": "RESPONSE", "message": {"text": "Hi"}}
    code, subcode, message = refusal(send(fb, token, recipient={"id": "7999"}, **body))
    assert (code, subcode, message) == (100, 2018001, "(#100) No matching user found")
    sandbox.record_action(ACME_SUPPORT, DAN)
    sandbox.set_blocked(ACME_SUPPORT, DAN)
    assert refusal(send(fb, token, recipient={"id": DAN}, **body))[:2] == (551, 1545041)
    sandbox.set_blocked(ACME_SUPPORT, DAN, False)
    assert send(fb, token, recipient={"id": DAN}, **body)[0] == 200


def test_form_fields_with_json_text_and_me_messages_work_too(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    response = fb.post(f"{V}/me/messages", data={
        "recipient": json.dumps({"id": CORA}), "messaging_type": "RESPONSE",
        "message": json.dumps({"text": "Hello from a form"}), "access_token": token,
    })  # fmt: skip
    assert response.status_code == 200, response.get_json()
    assert sandbox.received(ACME_SUPPORT, CORA)[0]["text"] == "Hello from a form"


def test_tokens_must_be_alive_for_this_page_and_may_message(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    otto = page_token(fb, user_token(app, sandbox, fb, OTTO, scopes=list(LOGIN_SCOPES)),
                      "200000000000004")  # fmt: skip
    assert refusal(reply(fb, otto))[0] == 210  # another page's token
    narrow = page_token(fb, user_token(app, sandbox, fb, scopes=["pages_show_list"]))
    assert refusal(reply(fb, narrow))[0] == 230
    sandbox.change_password("10000000000000001")
    assert refusal(reply(fb, token))[:2] == (190, 460)


# --- Attachments -------------------------------------------------------------------------


def test_attachments_by_url_reusable_and_uploaded(
    sandbox: SandboxWorld, fb: FlaskClient, token: str, hooks: Hooks
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    url = "https://desk.example/files/receipt.png"
    status, body = send(fb, token, recipient={"id": CORA}, messaging_type="RESPONSE", message={
        "attachment": {"type": "image", "payload": {"url": url, "is_reusable": True}}})  # fmt: skip
    assert status == 200, body
    assert body["attachment_id"].isdigit()
    again = {"attachment": {"type": "image", "payload": {"attachment_id": body["attachment_id"]}}}
    assert (
        send(fb, token, recipient={"id": CORA}, messaging_type="RESPONSE", message=again)[0] == 200
    )
    echoes = [w["entry"][0]["messaging"][0]["message"] for w in hooks.wait(2)]
    assert [e["attachments"] for e in echoes] == [[{"type": "image", "payload": {"url": url}}]] * 2
    assert all("text" not in e for e in echoes)

    upload = fb.post(f"{V}/{ACME_SUPPORT}/message_attachments", data={
        "message": json.dumps({"attachment": {"type": "file", "payload": {"is_reusable": True}}}),
        "filedata": (io.BytesIO(b"%PDF-1.7 ..."), "invoice.pdf", "application/pdf"),
    }, headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert upload.status_code == 200, upload.get_json()
    uploaded = upload.get_json()["attachment_id"]
    with sandbox.state() as world:
        assert world["messenger"]["attachments"][uploaded]["name"] == "invoice.pdf"
        assert world["messenger"]["attachments"][uploaded]["size"] == len(b"%PDF-1.7 ...")
    by_id = {"attachment": {"type": "file", "payload": {"attachment_id": uploaded}}}
    assert (
        send(fb, token, recipient={"id": CORA}, messaging_type="RESPONSE", message=by_id)[0] == 200
    )
    unknown = {"attachment": {"type": "file", "payload": {"attachment_id": "123"}}}
    assert refusal(send(fb, token, recipient={"id": CORA}, messaging_type="RESPONSE",
                        message=unknown))[0] == 100  # fmt: skip


def test_an_upload_over_25_mb_is_refused(fb: FlaskClient, token: str) -> None:
    # Encoded in memory: the test client would spool so large a body to a file left open.
    boundary, raw = encode_multipart({
        "message": json.dumps({"attachment": {"type": "video", "payload": {"is_reusable": True}}}),
        "filedata": FileStorage(io.BytesIO(b"\0" * (25 * 1024 * 1024 + 1)), "long.mp4"),
    })  # fmt: skip
    response = fb.post(
        f"{V}/{ACME_SUPPORT}/message_attachments", data=raw,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    error = error_of(response.get_json())
    assert (error["code"], error["error_subcode"]) == (100, 2018109)


# --- Private replies ---------------------------------------------------------------------------


def private_reply(fb: FlaskClient, token: str, comment_id: str) -> tuple[int, Any]:
    return send(fb, token, recipient={"comment_id": comment_id},
                message={"text": "We've sent you the details here."})  # fmt: skip


def test_a_private_reply_goes_once_to_the_commenter(
    sandbox: SandboxWorld, fb: FlaskClient, token: str, hooks: Hooks
) -> None:
    comment_id = comment_by(sandbox)
    sandbox.advance_clock(3 * DAY)  # a comment's 7 days, not the 24-hour window
    status, body = private_reply(fb, token, comment_id)
    assert status == 200, body
    assert body["recipient_id"] == CORA
    assert body["message_id"].startswith("m_")
    [webhook] = hooks.wait(1)
    assert webhook["entry"][0]["messaging"][0]["recipient"] == {"id": CORA}
    code, _, message = refusal(private_reply(fb, token, comment_id))
    assert code == 10900
    assert "already replied" in message
    assert sandbox.comment(comment_id)["private_replied"] is True
    assert sandbox.received(ACME_SUPPORT, CORA)[0]["comment_id"] == comment_id


def test_no_private_reply_after_seven_days_nor_to_the_page_itself(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    old = comment_by(sandbox)
    sandbox.advance_clock(7 * DAY + MINUTE)
    assert refusal(private_reply(fb, token, old))[0] == 10903
    fresh = comment_by(sandbox)
    answered = fb.post(f"{V}/{fresh}/comments", data={"message": "Yes, 9 to 5."},
                       headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert answered.status_code == 200
    page_reply = next(c["id"] for c in sandbox.comments_of(ACME_SUPPORT, CORA)[-1]["replies"])
    assert refusal(private_reply(fb, token, page_reply))[0] == 10903
    assert refusal(private_reply(fb, token, "900000000000001_1"))[0] == 10903
    assert private_reply(fb, token, fresh)[0] == 200


# --- Comment moderation -------------------------------------------------------------------


def test_a_public_reply_hide_unhide_and_delete_with_their_feed_webhooks(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient, token: str, hooks: Hooks
) -> None:
    comment_id = comment_by(sandbox)
    auth = {"Authorization": f"Bearer {token}"}
    created = fb.post(f"{V}/{comment_id}/comments", data={"message": "Yes, 9 to 5."}, headers=auth)
    assert created.status_code == 200, created.get_json()
    new_id = created.get_json()["id"]
    for hidden in ("true", "false"):
        hide = fb.post(f"{V}/{comment_id}", data={"is_hidden": hidden}, headers=auth)
        assert hide.get_json() == {"success": True}
    assert fb.delete(f"{V}/{comment_id}", headers=auth).get_json() == {"success": True}

    bodies = hooks.wait(4)
    for raw, signature in hooks.raw[:4]:
        assert signature == sign(raw, app.config["FACEBOOK_APP_SECRET"])
    values = [b["entry"][0]["changes"][0]["value"] for b in bodies]
    assert all(b["entry"][0]["changes"][0]["field"] == "feed" for b in bodies)
    add, hide, unhide, remove = values
    assert add["verb"] == "add"
    assert add["from"] == {"id": ACME_SUPPORT, "name": "Acme Support"}
    assert (add["comment_id"], add["parent_id"]) == (new_id, comment_id)
    assert add["post_id"] == simulator.post_id(ACME_SUPPORT)
    assert add["message"] == "Yes, 9 to 5."
    assert isinstance(add["created_time"], int)
    assert (hide["verb"], hide["is_hidden"], hide["comment_id"]) == ("hide", True, comment_id)
    assert (unhide["verb"], unhide["is_hidden"]) == ("unhide", False)
    assert remove["verb"] == "remove"
    assert "message" not in remove
    assert sandbox.comment(comment_id)["deleted"] is True


def test_comments_unknown_or_of_another_page_are_unsupported(
    app: Flask, sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    unknown = fb.post(f"{V}/900000000000001_42/comments", data={"message": "x"}, headers=auth)
    error = error_of(unknown.get_json())
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert error["message"].startswith("Unsupported post request.")
    gone = error_of(fb.delete(f"{V}/900000000000001_42", headers=auth).get_json())
    assert gone["message"].startswith("Unsupported delete request.")
    comment_id = comment_by(sandbox)
    otto = page_token(fb, user_token(app, sandbox, fb, OTTO, scopes=list(LOGIN_SCOPES)),
                      "200000000000004")  # fmt: skip
    other = fb.post(f"{V}/{comment_id}", data={"is_hidden": "true"},
                    headers={"Authorization": f"Bearer {otto}"})  # fmt: skip
    assert error_of(other.get_json())["code"] == 100
    assert sandbox.comment(comment_id)["hidden"] is False


# --- Knobs and webhooks ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "status", "code", "subcode"),
    [("transient", 500, 2, None), ("rate_limit", 400, 613, None),
     ("permanent", 400, 551, 1545041), ("dead_token", 400, 190, 460)],
)  # fmt: skip
def test_failing_sends_refuse_the_next_n_then_recover(
    sandbox: SandboxWorld, fb: FlaskClient, token: str, mode: str, status: int, code: int,
    subcode: int | None,
) -> None:  # fmt: skip
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.fail_sends(ACME_SUPPORT, mode, times=2)
    for _ in range(2):
        got_status, body = reply(fb, token)
        assert got_status == status
        assert (body["error"]["code"], body["error"].get("error_subcode")) == (code, subcode)
    assert reply(fb, token)[0] == 200
    assert len(sandbox.received(ACME_SUPPORT, CORA)) == 1


def test_an_ambiguous_send_is_delivered_and_echoed_but_answered_1_1357046(
    sandbox: SandboxWorld, fb: FlaskClient, token: str, hooks: Hooks
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.fail_sends(ACME_SUPPORT, "ambiguous")
    status, body = reply(fb, token, "Did this arrive?")
    assert status == 500
    assert (body["error"]["code"], body["error"]["error_subcode"]) == (1, 1357046)
    [got] = sandbox.received(ACME_SUPPORT, CORA)
    [webhook] = hooks.wait(1)
    assert webhook["entry"][0]["messaging"][0]["message"]["mid"] == got["mid"]
    assert reply(fb, token)[0] == 200  # used up


def test_an_invalid_request_does_not_use_up_an_after_delivery_knob(
    sandbox: SandboxWorld, fb: FlaskClient, token: str
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    sandbox.fail_sends(ACME_SUPPORT, "ambiguous")
    assert refusal(reply(fb, token, "x" * 2000))[0] == 100
    assert reply(fb, token)[0] == 500


def test_webhooks_follow_the_subscription_and_reads_the_open_thread(
    sandbox: SandboxWorld, fb: FlaskClient, token: str, hooks: Hooks
) -> None:
    sandbox.record_action(ACME_SUPPORT, CORA)
    auth = {"Authorization": f"Bearer {token}"}
    fb.post(f"{V}/{ACME_SUPPORT}/subscribed_apps", data={"subscribed_fields": "messages"},
            headers=auth)  # fmt: skip
    reply(fb, token, "nobody hears this")
    assert sandbox.open_thread(ACME_SUPPORT, CORA) == []  # read, but no message_reads field
    fields = {"subscribed_fields": "message_deliveries,message_reads"}
    fb.post(f"{V}/{ACME_SUPPORT}/subscribed_apps", data=fields, headers=auth)
    _, sent = reply(fb, token, "only a delivery")
    [only] = hooks.wait(1)  # the courier keeps order: nothing came before this
    assert [list(e) for e in only["entry"][0]["messaging"]] == [
        ["sender", "recipient", "timestamp", "delivery"]
    ]
    assert only["entry"][0]["messaging"][0]["delivery"]["mids"] == [sent["message_id"]]
    [receipt] = sandbox.open_thread(ACME_SUPPORT, CORA)
    read = receipt["entry"][0]["messaging"][0]
    assert read["sender"] == {"id": CORA}
    assert read["read"]["watermark"] >= sandbox.received(ACME_SUPPORT, CORA)[-1]["at"]
    assert all(entry["read"] for entry in sandbox.received(ACME_SUPPORT, CORA))
    assert sandbox.open_thread(ACME_SUPPORT, CORA) == []  # nothing unread any more
