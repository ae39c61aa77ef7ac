"""The "closes soonest" sort: open Messenger windows first, comments always last."""

from __future__ import annotations

import json
import re
import time

from flask import Flask

from tests.helpers import WebClient
from tests.web.test_webhooks import DAN, PAYLOADS, deliver, process
from webapp.models import Channel

NAMES = r"<strong>([^<]+)</strong></a>"


def test_a_fresh_comment_comes_after_every_open_window(
    app: Flask, connected: Channel, admin_web: WebClient
) -> None:
    now = int(time.time())
    comment = json.loads((PAYLOADS / "feed/comment_add.json").read_text())
    value = comment["entry"][0]["changes"][0]["value"]
    value["created_time"] = now - 7200  # two hours ago: older than the Messenger message
    deliver(app, json.dumps(comment).encode())
    text = json.loads((PAYLOADS / "messenger/text.json").read_text())
    event = text["entry"][0]["messaging"][0]
    event["sender"]["id"], event["timestamp"] = DAN, (now - 3600) * 1000
    deliver(app, json.dumps(text).encode())
    process(app)
    page = admin_web.get("/inbox?sort=window").text
    rows = page.split("<tbody>", 1)[-1]
    assert re.findall(NAMES, rows) == ["Dan Díaz", "Dan Díaz"]
    first, second = rows.split("Dan Díaz")[1:3]
    assert "Comments: no window" not in first
    assert "Comments: no window" in second
