"""The sandbox's Send API: who may be messaged when, with which tag, and what follows
(reference §6, §7). Joined into :class:`SandboxWorld`, over the same locked JSON state.

Times come from the sandbox clock (``self.now(world)``), so ``advance_clock`` moves
the 24-hour and 7-day windows in tests.
"""

from __future__ import annotations

from typing import Any

from webapp.blueprints.sandbox import send_checks
from webapp.blueprints.sandbox.data import GraphFailure, customer_for
from webapp.blueprints.sandbox.parts import WorldPart
from webapp.blueprints.sandbox.send_checks import TAG_WINDOW, Outcome, closed
from webapp.blueprints.sandbox.simulator import mid as new_mid

WINDOW = 24 * 3600
SUBSCRIPTION = "NON_PROMOTIONAL_SUBSCRIPTION"


class MessengerRules(WorldPart):
    """The Send API's checks, what customers received, and the knobs that break sending."""

    # --- The Send API --------------------------------------------------------------

    def send(self, page_id: str, token: str | None, body: dict[str, Any]) -> Outcome:
        """``POST /{page-id}/messages``: check everything Facebook checks, deliver, echo."""
        with self.state() as world:  # one read and one write of the world per send
            page_id = self.messaging_page(world, page_id, token)
            failure = send_checks.take_failure(world, page_id, after=False)
            outcome = None if failure else self._send(world, page_id, body)
        if failure:
            raise failure  # outside the lock's block: the used-up knob is saved
        assert outcome is not None  # noqa: S101 (sent, or refused by a knob)
        return outcome

    def _send(self, world: dict[str, Any], page_id: str, body: dict[str, Any]) -> Outcome:
        """The checks and the delivery; a refusal raised here leaves the world unchanged."""
        message = send_checks.checked_message(body.get("message"))
        kind, tag = body.get("messaging_type"), body.get("tag")
        send_checks.check_tag(tag, kind)
        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or not (
            recipient.get("id") or recipient.get("comment_id")
        ):
            raise GraphFailure("(#100) param recipient must be non-empty.", 100)
        if recipient.get("comment_id"):
            psid = self._private_reply_to(world, page_id, str(recipient["comment_id"]))
        else:
            psid = str(recipient["id"])
            self._check_window(world, page_id, psid, kind, tag, message)
        sent, reusable = send_checks.attachments_of(world, page_id, message)
        entry = self._deliver(world, page_id, psid, body, message, sent)
        answer = {"recipient_id": psid, "message_id": entry["mid"]}
        if reusable:
            answer["attachment_id"] = reusable
        webhooks = self._after_send(world, page_id, psid, entry)
        outcome = Outcome(answer, webhooks)
        send_checks.spoil(world, page_id, outcome)
        return outcome

    def messaging_page(self, world: dict[str, Any], page_id: str, token: str | None) -> str:
        """The page a live page token may message for (``me`` is the token's own page)."""
        record = self._live(world, token)
        if record["type"] != "PAGE" or page_id not in ("me", record["page_id"]):
            raise GraphFailure(
                "(#210) A page access token is required to request this resource.", 210
            )
        if "pages_messaging" not in record["scopes"]:
            raise GraphFailure(
                "(#230) Requires pages_messaging permission to manage the object", 230
            )
        page = world["pages"][record["page_id"]]
        if "MESSAGING" not in page["roles"].get(record["user_id"], []):
            raise GraphFailure("(#10) Application does not have permission for this action", 10)
        return record["page_id"]

    def _check_window(
        self, world: dict[str, Any], page_id: str, psid: str, kind: str | None,
        tag: str | None, message: dict[str, Any],
    ) -> None:  # fmt: skip
        if kind is None:
            raise GraphFailure("(#100) The parameter messaging_type is required", 100)
        if customer_for(page_id, psid) is None:
            raise GraphFailure("(#100) No matching user found", 100, 2018001)
        if self.is_blocked(world, page_id, psid):
            raise GraphFailure("(#551) This person isn't available right now.", 551, 1545041)
        last = send_checks.book(world)["last_action"].get(f"{page_id}:{psid}")
        age = self.now(world) - last / 1000 if last else float("inf")
        features = world["pages"][page_id].get("features", {})
        if SUBSCRIPTION in (kind, tag):
            if not features.get("npi"):  # only News Page Index publishers, since 4 March 2020
                raise closed(
                    2018065,
                    "(#10) This message is sent outside of allowed window. You need"
                    " page_messaging_subscriptions permission to be able to do it.",
                )
        elif kind == "MESSAGE_TAG":
            send_checks.check_tagged(
                tag, age, message, human_agent=bool(features.get("human_agent"))
            )
        elif age > WINDOW:
            raise closed()

    def _private_reply_to(self, world: dict[str, Any], page_id: str, comment_id: str) -> str:
        """The commenter a private reply goes to; one reply per comment, within 7 days."""
        comment = world.get("comments", {}).get(comment_id)
        cannot = GraphFailure("(#10903) This user can't reply to this activity", 10903)
        if comment is None or comment["page_id"] != page_id or comment["deleted"]:
            raise cannot
        if comment["by_page"] or self.now(world) - comment["created_time"] > TAG_WINDOW:
            raise cannot
        if comment["private_replied"]:
            raise GraphFailure("(#10900) Activity already replied to", 10900)
        if self.is_blocked(world, page_id, comment["from"]):
            raise GraphFailure("(#551) This person isn't available right now.", 551, 1545041)
        comment["private_replied"] = True
        return comment["from"]

    def _deliver(
        self, world: dict[str, Any], page_id: str, psid: str, body: dict[str, Any],
        message: dict[str, Any], attachments: list[dict[str, Any]],
    ) -> dict[str, Any]:  # fmt: skip
        entry = {
            "mid": new_mid(), "at": int(self.now(world) * 1000), "text": message.get("text"),
            "attachments": attachments, "metadata": message.get("metadata"),
            "messaging_type": body.get("messaging_type"), "tag": body.get("tag"),
            "comment_id": (body.get("recipient") or {}).get("comment_id"),
            "delivered": True, "read": False,
        }  # fmt: skip
        send_checks.book(world)["received"].setdefault(f"{page_id}:{psid}", []).append(entry)
        return entry

    def _after_send(
        self, world: dict[str, Any], page_id: str, psid: str, entry: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The echo and the delivery receipt, in one POST, for the fields subscribed."""
        fields = world["pages"][page_id]["subscriptions"].get(self.app_id) or []
        events = []
        if "message_echoes" in fields:
            events.append(send_checks.echo(page_id, psid, entry, self.app_id))
        if "message_deliveries" in fields:
            delivery = {"mids": [entry["mid"]], "watermark": entry["at"]}
            events.append(send_checks.event(psid, page_id, entry["at"], delivery=delivery))
        return [send_checks.envelope(page_id, entry["at"], events)] if events else []

    def upload(self, page_id: str, token: str | None, *, kind: Any, name: str, size: int) -> str:
        """``POST /{page-id}/message_attachments``: a reusable attachment's id."""
        with self.state() as world:
            page_id = self.messaging_page(world, page_id, token)
            return send_checks.store_upload(world, page_id, kind=kind, name=name, size=size)

    # --- What customers do and see ---------------------------------------------------

    def open_thread(self, page_id: str, psid: str) -> list[dict[str, Any]]:
        """The customer opens Messenger: everything is read; a read receipt if subscribed."""
        with self.state() as world:
            unread = [e for e in self._thread(world, page_id, psid) if not e["read"]]
            if not unread:
                return []
            for entry in unread:
                entry["read"] = True
            now = int(self.now(world) * 1000)
            if "message_reads" not in (
                world["pages"][page_id]["subscriptions"].get(self.app_id) or []
            ):
                return []
            read = send_checks.event(psid, page_id, now, read={"watermark": now})
            return [send_checks.envelope(page_id, now, [read])]

    def received(self, page_id: str, psid: str) -> list[dict[str, Any]]:
        """What the page sent this customer on Messenger, oldest first."""
        with self.state() as world:
            return [dict(entry) for entry in self._thread(world, page_id, psid)]

    def _thread(self, world: dict[str, Any], page_id: str, psid: str) -> list[dict[str, Any]]:
        return send_checks.book(world)["received"].get(f"{page_id}:{psid}", [])

    def record_action(self, page_id: str, psid: str) -> None:
        """A customer's message, postback or reaction: it (re)opens the 24-hour window."""
        with self.state() as world:
            send_checks.book(world)["last_action"][f"{page_id}:{psid}"] = int(
                self.now(world) * 1000
            )

    def last_action(self, page_id: str, psid: str) -> int | None:
        """When the customer last acted on the page (Unix ms, sandbox clock)."""
        with self.state() as world:
            return send_checks.book(world)["last_action"].get(f"{page_id}:{psid}")

    # --- Knobs ----------------------------------------------------------------------

    def fail_sends(self, page_id: str, mode: str, times: int = 1, *, sleep: float = 15.0) -> None:
        """Spoil the page's next ``times`` sends (0: none); modes in ``send_checks.MODES``."""
        if mode not in send_checks.MODES:
            raise ValueError(f"unknown failure mode {mode!r}")
        with self.state() as world:
            page = world["pages"][page_id]
            page["send_failure"] = (
                {"mode": mode, "times": times, "sleep": sleep} if times > 0 else None
            )

    def set_page_feature(
        self, page_id: str, *, human_agent: bool | None = None, npi: bool | None = None
    ) -> None:
        """Grant or take the Human Agent feature, or the page's News Page Index listing."""
        with self.state() as world:
            features = world["pages"][page_id].setdefault("features", {})
            for name, value in (("human_agent", human_agent), ("npi", npi)):
                if value is not None:
                    features[name] = value

    def set_blocked(self, page_id: str, psid: str, blocked: bool = True) -> None:
        """The customer blocks (or unblocks) the page on Messenger: sends fail with 551."""
        with self.state() as world:
            keys = set(send_checks.book(world)["blocked"])
            keys = keys | {f"{page_id}:{psid}"} if blocked else keys - {f"{page_id}:{psid}"}
            send_checks.book(world)["blocked"] = sorted(keys)

    def is_blocked(self, world: dict[str, Any], page_id: str, psid: str) -> bool:
        return f"{page_id}:{psid}" in send_checks.book(world)["blocked"]

    def blocked(self, page_id: str, psid: str) -> bool:
        """Whether the customer has blocked the page."""
        with self.state() as world:
            return self.is_blocked(world, page_id, psid)
