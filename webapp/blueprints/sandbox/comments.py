"""The sandbox's page comments: what customers wrote, and the page's public replies,
hiding and deleting, each followed by its ``feed`` webhook (reference §5.7, §8.2).

Joined into :class:`SandboxWorld`; comments live in the world's ``comments`` map.
"""

from __future__ import annotations

from typing import Any

from webapp.blueprints.sandbox import send_checks, simulator
from webapp.blueprints.sandbox.data import GraphFailure
from webapp.blueprints.sandbox.parts import WorldPart
from webapp.blueprints.sandbox.send_checks import Outcome


def unsupported(method: str, object_id: str) -> GraphFailure:
    """Facebook's answer for an id that is not there, or not this token's to touch."""
    return GraphFailure(
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be"
        " loaded due to missing permissions, or does not support this operation. Please read"
        " the Graph API documentation at https://developers.facebook.com/docs/graph-api",
        100,
        33,
    )


class CommentRules(WorldPart):
    """Comments on the page's post, and what the page may do to them."""

    # --- What customers do ---------------------------------------------------------

    def observe(self, page_id: str, body: dict[str, Any]) -> None:
        """Learn from a customer's webhook: the time of their last action, their comments."""
        with self.state() as world:
            now = self.now(world)
            for entry in body.get("entry", []):
                for item in entry.get("messaging", []):
                    if {"message", "postback", "reaction"} & set(item):  # opens the window
                        key = f"{page_id}:{item['sender']['id']}"
                        send_checks.book(world)["last_action"][key] = int(now * 1000)
                for change in entry.get("changes", []):
                    self._observe_comment(world, page_id, change["value"], now)

    def _observe_comment(
        self, world: dict[str, Any], page_id: str, value: dict[str, Any], now: float
    ) -> None:
        comments = world.setdefault("comments", {})
        known = comments.get(value["comment_id"])
        if value["verb"] == "add":
            comments[value["comment_id"]] = {
                "id": value["comment_id"], "page_id": page_id, "post_id": value["post_id"],
                "parent_id": value["parent_id"], "from": value["from"]["id"],
                "name": value["from"].get("name", ""), "message": value.get("message", ""),
                "created_time": now, "by_page": value["from"]["id"] == page_id,
                "private_replied": False, "hidden": False, "deleted": False,
            }  # fmt: skip
        elif known and value["verb"] == "edited":
            known["message"] = value.get("message", "")
        elif known and value["verb"] == "remove":
            known["deleted"] = True

    def comments_of(self, page_id: str, psid: str) -> list[dict[str, Any]]:
        """A customer's comments on the page, oldest first, each with the page's replies."""
        with self.state() as world:
            everything = world.get("comments", {}).values()
            replies = [c for c in everything if c["by_page"] and c["page_id"] == page_id]
            mine = [c for c in everything if c["page_id"] == page_id and c["from"] == psid]
            return [
                {**c, "replies": [r for r in replies if r["parent_id"] == c["id"]]}
                for c in sorted(mine, key=lambda c: c["created_time"])
            ]

    def comment(self, comment_id: str) -> dict[str, Any] | None:
        """One comment as the sandbox keeps it."""
        with self.state() as world:
            found = world.get("comments", {}).get(comment_id)
            return dict(found) if found else None

    # --- What the page does (Graph API) ---------------------------------------------

    def reply_to_comment(self, comment_id: str, token: str | None, text: Any) -> Outcome:
        """``POST /{comment-id}/comments``: the page's public reply, then a feed ``add``."""
        with self.state() as world:
            comment = self._moderated(world, comment_id, token, "post")
            failure = send_checks.take_failure(world, comment["page_id"], after=False)
        if failure:
            raise failure
        if not isinstance(text, str) or not text.strip():
            raise GraphFailure("(#100) Missing message or attachment", 100)
        with self.state() as world:
            comment = self._moderated(world, comment_id, token, "post")
            page = world["pages"][comment["page_id"]]
            new_id = simulator.new_comment_id(page["id"])
            now = self.now(world)
            world["comments"][new_id] = {
                **comment, "id": new_id, "parent_id": comment_id, "from": page["id"],
                "name": page["name"], "message": text, "created_time": now, "by_page": True,
                "private_replied": False, "hidden": False, "deleted": False,
            }  # fmt: skip
            webhooks = self._feed(world, world["comments"][new_id], "add", now)
            outcome = Outcome({"id": new_id}, webhooks)
            send_checks.spoil(world, page["id"], outcome)
        return outcome

    def set_hidden(self, comment_id: str, token: str | None, hidden: Any) -> Outcome:
        """``POST /{comment-id}`` with ``is_hidden``: then a feed ``hide`` or ``unhide``."""
        flag = {"true": True, "false": False}.get(str(hidden).lower())
        if flag is None:
            raise GraphFailure("(#100) Param is_hidden must be a boolean", 100)
        with self.state() as world:
            comment = self._moderated(world, comment_id, token, "post")
            comment["hidden"] = flag
            webhooks = self._feed(world, comment, "hide" if flag else "unhide", self.now(world))
        return Outcome({"success": True}, webhooks)

    def delete_comment(self, comment_id: str, token: str | None) -> Outcome:
        """``DELETE /{comment-id}``: gone for good, then a feed ``remove``."""
        with self.state() as world:
            comment = self._moderated(world, comment_id, token, "delete")
            comment["deleted"] = True
            webhooks = self._feed(world, comment, "remove", self.now(world))
        return Outcome({"success": True}, webhooks)

    def _moderated(
        self, world: dict[str, Any], comment_id: str, token: str | None, method: str
    ) -> dict[str, Any]:
        """The comment, if this token is a live token of its page allowed to moderate."""
        record = self._live(world, token)
        comment = world.get("comments", {}).get(comment_id)
        if comment is None or comment["deleted"] or record.get("page_id") != comment["page_id"]:
            raise unsupported(method, comment_id)
        if "pages_manage_engagement" not in record["scopes"]:
            raise GraphFailure(
                "(#200) Requires pages_manage_engagement permission to manage the object", 200
            )
        return comment

    def _feed(
        self, world: dict[str, Any], comment: dict[str, Any], verb: str, now: float
    ) -> list[dict[str, Any]]:
        page_id = comment["page_id"]
        if "feed" not in (world["pages"][page_id]["subscriptions"].get(self.app_id) or []):
            return []
        parent = comment["parent_id"] if comment["parent_id"] != comment["post_id"] else None
        return [
            simulator.comment(
                page_id, verb=verb, comment_id=comment["id"], parent_id=parent,
                sender=(comment["from"], comment["name"]), at=now,
                words=None if verb == "remove" else comment["message"],
            )
        ]  # fmt: skip
