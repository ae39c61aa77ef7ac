"""The built-in Facebook's state and rules: users, pages, codes, tokens, and how they die.

Plain Python over a JSON file in the instance folder, locked for each change,
so the sandbox survives restarts and every worker process sees the same world.
Times are Unix seconds, as Facebook's are; ``advance_clock`` moves them on for tests.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from webapp.blueprints.sandbox.comments import CommentRules
from webapp.blueprints.sandbox.data import (
    ALL_TASKS,
    CODE_LIFETIME,
    DATA_ACCESS,
    LONG_LIVED,
    SHORT_LIVED,
    WEBHOOK_FIELDS,
    GraphFailure,
    add_page,
    cursor,
    customer_for,
    decode_cursor,
    page_view,
    seed,
)
from webapp.blueprints.sandbox.messenger import MessengerRules


class SandboxWorld(MessengerRules, CommentRules):
    """Facebook's side of every flow Pagedesk uses, and the knobs to break it."""

    def __init__(self, path: Path, *, app_id: str, app_secret: str, app_name: str) -> None:
        self.path = path
        self.app_id, self.app_secret, self.app_name = app_id, app_secret, app_name

    @contextmanager
    def state(self) -> Iterator[dict[str, Any]]:
        """The world, locked against other threads and processes; saved afterwards."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                world = json.loads(self.path.read_text()) if self.path.exists() else seed()
                yield world
                temporary = self.path.with_suffix(".tmp")
                temporary.write_text(json.dumps(world))
                temporary.replace(self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def now(self, world: dict[str, Any] | None = None) -> float:
        if world is None:
            with self.state() as world:
                return time.time() + world["clock_offset"]
        return time.time() + world["clock_offset"]

    # --- Login --------------------------------------------------------------

    def users(self) -> list[dict[str, Any]]:
        with self.state() as world:
            return list(world["users"].values())

    def issue_code(self, *, user_id: str, redirect_uri: str, scopes: list[str]) -> str:
        """What the dialog's Allow does: a single-use code for this person."""
        code = "AQ" + secrets.token_urlsafe(32)
        with self.state() as world:
            world["codes"][code] = {
                "user_id": user_id, "redirect_uri": redirect_uri, "scopes": scopes,
                "issued_at": self.now(world), "used": False,
            }  # fmt: skip
        return code

    def check_client(self, client_id: str | None, client_secret: str | None) -> None:
        if client_id != self.app_id:
            raise GraphFailure("Error validating application. Invalid application ID.", 101)
        if not secrets.compare_digest(client_secret or "", self.app_secret):
            raise GraphFailure("Error validating client secret.", 1)

    def exchange_code(self, *, code: str, redirect_uri: str | None) -> dict[str, Any]:
        """``/oauth/access_token`` with a code: a short-lived user token."""
        with self.state() as world:
            grant = world["codes"].get(code)
            if grant is None:
                raise GraphFailure("Invalid verification code format.", 100)
            if grant["used"]:
                raise GraphFailure("This authorization code has been used.", 100, 36009)
            if self.now(world) - grant["issued_at"] > CODE_LIFETIME:
                raise GraphFailure("This authorization code has expired.", 100, 36007)
            if redirect_uri != grant["redirect_uri"]:
                raise GraphFailure(
                    "Error validating verification code. Please make sure your redirect_uri is"
                    " identical to the one you used in the OAuth dialog request",
                    100,
                    36008,
                )
            grant["used"] = True
            now = self.now(world)
            token = self._mint(
                world, "USER", grant["user_id"], scopes=grant["scopes"],
                expires_at=now + SHORT_LIVED, data_access_expires_at=now + DATA_ACCESS,
                long_lived=False,
            )  # fmt: skip
        return {"access_token": token, "token_type": "bearer", "expires_in": SHORT_LIVED}

    def exchange_token(self, short_lived: str) -> dict[str, Any]:
        """``grant_type=fb_exchange_token``: a 60-day user token."""
        with self.state() as world:
            record = self._live(world, short_lived)
            if record["type"] != "USER":
                raise GraphFailure("Invalid OAuth access token.", 190)
            token = self._mint(
                world, "USER", record["user_id"], scopes=record["scopes"],
                expires_at=self.now(world) + LONG_LIVED,
                data_access_expires_at=record["data_access_expires_at"], long_lived=True,
            )  # fmt: skip
        return {"access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED}

    def _mint(self, world: dict[str, Any], kind: str, user_id: str, **fields: Any) -> str:
        token = "EAA" + secrets.token_urlsafe(40)
        world["tokens"][token] = {
            "type": kind, "user_id": user_id, "issued_at": self.now(world), "page_id": None,
            **fields,
        }  # fmt: skip
        return token

    # --- Tokens -------------------------------------------------------------

    def _live(self, world: dict[str, Any], token: str | None) -> dict[str, Any]:
        """The token's record if Facebook would accept it, else the failure it would send."""
        if not token:
            raise GraphFailure("An access token is required to request this resource.", 104)
        record = world["tokens"].get(token)
        if record is None:
            raise GraphFailure("Invalid OAuth access token - Cannot parse access token", 190)
        if failure := self._death(world, record):
            raise failure
        return record

    def _death(self, world: dict[str, Any], record: dict[str, Any]) -> GraphFailure | None:
        user, now = world["users"][record["user_id"]], self.now(world)
        prefix = "Error validating access token: "
        if user["app_removed_at"] > record["issued_at"]:
            text = f"User {user['id']} has not authorized application {self.app_id}."
            return GraphFailure(prefix + text, 190, 458)
        if user["password_changed_at"] > record["issued_at"]:
            text = (
                "The session has been invalidated because the user changed their password"
                " or Facebook has changed the session for security reasons."
            )
            return GraphFailure(prefix + text, 190, 460)
        if record["expires_at"] and now >= record["expires_at"]:
            when = time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(record["expires_at"]))
            return GraphFailure(prefix + f"Session has expired on {when}.", 190, 463)
        if now >= record["data_access_expires_at"]:
            # The error for lapsed data access is unconfirmed; the safe reading: a dead token.
            return GraphFailure(prefix + "Data access for this user has expired.", 190, 463)
        if record["type"] == "PAGE":
            page = world["pages"][record["page_id"]]
            if not page["roles"].get(record["user_id"]):
                text = (
                    "The user associated with the Page access token does not have an"
                    " appropriate role on the Page."
                )
                return GraphFailure(prefix + text, 190, 492)
        return None

    def debug_token(self, *, app_token: str | None, input_token: str | None) -> dict[str, Any]:
        """``/debug_token``: what a token is, and if dead, why."""
        if app_token != f"{self.app_id}|{self.app_secret}":
            raise GraphFailure("Invalid OAuth access token signature.", 190)
        if not input_token:
            raise GraphFailure("(#100) The parameter input_token is required", 100)
        with self.state() as world:
            record = world["tokens"].get(input_token)
            if record is None:
                error = {"code": 190, "message": "Invalid OAuth access token."}
                return {"data": {"error": error, "is_valid": False, "scopes": []}}
            data: dict[str, Any] = {
                "app_id": self.app_id, "type": record["type"], "application": self.app_name,
                "data_access_expires_at": int(record["data_access_expires_at"]),
                "expires_at": int(record["expires_at"]), "is_valid": True,
                "issued_at": int(record["issued_at"]), "scopes": record["scopes"],
                "granular_scopes": [{"scope": s} for s in record["scopes"]],
                "user_id": record["user_id"],
            }  # fmt: skip
            if record["type"] == "PAGE":
                data["profile_id"] = record["page_id"]
            if failure := self._death(world, record):
                data["is_valid"] = False
                data["error"] = {"code": failure.code, "message": str(failure)}
                if failure.subcode:
                    data["error"]["subcode"] = failure.subcode
        return {"data": data}

    # --- Graph objects --------------------------------------------------------

    def me(self, token: str | None) -> dict[str, Any]:
        with self.state() as world:
            record = self._live(world, token)
            if record["type"] == "PAGE":
                page = world["pages"][record["page_id"]]
                return {"id": page["id"], "name": page["name"]}
            user = world["users"][record["user_id"]]
            return {"id": user["id"], "name": user["name"]}

    def accounts(self, token: str | None, *, limit: int, after: str | None) -> dict[str, Any]:
        """``/me/accounts``: the pages the person has a role on, with a page token each."""
        with self.state() as world:
            record = self._live(world, token)
            if record["type"] != "USER":
                raise GraphFailure("(#100) Tried accessing nonexisting field (accounts)", 100)
            mine = sorted(
                (p for p in world["pages"].values() if p["roles"].get(record["user_id"])),
                key=lambda p: p["id"],
            )
            start = int(decode_cursor(after)) + 1 if after else 0
            chunk = mine[start : start + limit]
            data = [self._account(world, page, token or "", record) for page in chunk]
        body: dict[str, Any] = {"data": data}
        if chunk:
            body["paging"] = {
                "cursors": {"before": cursor(start), "after": cursor(start + len(chunk) - 1)}
            }
            if start + len(chunk) < len(mine):
                body["paging"]["next"] = "next"  # the route replaces it with the full URL
        return body

    def _account(
        self, world: dict[str, Any], page: dict[str, Any], user_token: str, record: dict[str, Any]
    ) -> dict[str, Any]:
        # One page token per (user token, page), as Facebook hands back the same one.
        key = f"{user_token}:{page['id']}"
        page_token = world["page_tokens"].get(key)
        if page_token is None:
            now = self.now(world)
            page_token = self._mint(
                world, "PAGE", record["user_id"], scopes=record["scopes"],
                expires_at=0 if record["long_lived"] else now + SHORT_LIVED,
                data_access_expires_at=record["data_access_expires_at"],
                long_lived=record["long_lived"],
            )  # fmt: skip
            world["tokens"][page_token]["page_id"] = page["id"]
            world["page_tokens"][key] = page_token
        return {**page_view(page), "access_token": page_token,
                "tasks": page["roles"][record["user_id"]]}  # fmt: skip

    def page(self, page_id: str, token: str | None, fields: str | None = None) -> dict[str, Any]:
        """A page (or, for a page token, one of its customers) with the fields asked for."""
        view = self._customer_profile(page_id, token) or self._page_object(page_id, token)
        wanted = [f.strip() for f in (fields or "id,name").split(",") if f.strip()]
        return {name: view[name] for name in wanted if name in view}

    def _customer_profile(self, scoped_id: str, token: str | None) -> dict[str, Any] | None:
        """The User Profile API: a PSID read with the token of the page it belongs to."""
        with self.state() as world:
            record = world["tokens"].get(token or "")
            if record is None or record["type"] != "PAGE":
                return None
            self._live(world, token)
            customer = customer_for(record["page_id"], scoped_id)
        if customer is None:
            return None
        if not customer["profile"]:
            raise GraphFailure("No profile available for this user.", 100, 2018218)
        first, last = customer["first_name"], customer["last_name"]
        return {
            "id": scoped_id, "first_name": first, "last_name": last, "name": f"{first} {last}",
            "profile_pic": f"/sandbox/facebook/picture/{scoped_id}.svg",
        }  # fmt: skip

    def _page_object(self, page_id: str, token: str | None) -> dict[str, Any]:
        with self.state() as world:
            self._live(world, token)
            page = world["pages"].get(page_id)
            if page is None:
                raise GraphFailure(
                    f"Unsupported get request. Object with ID '{page_id}' does not exist, cannot"
                    " be loaded due to missing permissions, or does not support this operation.",
                    100,
                    33,
                )
            return page_view(page)

    def _page_token(self, world: dict[str, Any], page_id: str, token: str | None) -> None:
        record = self._live(world, token)
        if record["type"] != "PAGE" or record["page_id"] != page_id:
            raise GraphFailure(
                "(#210) A page access token is required to request this resource.", 210
            )
        if "pages_manage_metadata" not in record["scopes"]:
            raise GraphFailure("(#200) Permissions error", 200)

    def subscribe(self, page_id: str, token: str | None, fields: str | None) -> None:
        with self.state() as world:
            self._page_token(world, page_id, token)
            if not fields:
                raise GraphFailure("(#100) The parameter subscribed_fields is required", 100)
            wanted = [f.strip() for f in fields.split(",") if f.strip()]
            for index, name in enumerate(wanted):
                if name not in WEBHOOK_FIELDS:
                    raise GraphFailure(
                        f"(#100) Param subscribed_fields[{index}] must be one of"
                        f' {{{", ".join(sorted(WEBHOOK_FIELDS))}}} - got "{name}"',
                        100,
                    )
            world["pages"][page_id]["subscriptions"][self.app_id] = wanted

    def subscriptions(self, page_id: str, token: str | None, base_url: str) -> dict[str, Any]:
        with self.state() as world:
            self._page_token(world, page_id, token)
            fields = world["pages"][page_id]["subscriptions"].get(self.app_id)
        if fields is None:
            return {"data": []}
        app = {"category": "Business", "link": base_url, "name": self.app_name, "id": self.app_id}
        return {"data": [{**app, "subscribed_fields": fields}]}

    def unsubscribe(self, page_id: str, token: str | None) -> None:
        with self.state() as world:
            self._page_token(world, page_id, token)
            world["pages"][page_id]["subscriptions"].pop(self.app_id, None)

    # --- Knobs for every hard case --------------------------------------------

    def change_password(self, user_id: str) -> None:
        """Kill every token of this person (190/460)."""
        with self.state() as world:
            world["users"][user_id]["password_changed_at"] = self.now(world) + 0.001

    def remove_app(self, user_id: str) -> None:
        """The person removes the app in their Facebook settings (190/458)."""
        with self.state() as world:
            world["users"][user_id]["app_removed_at"] = self.now(world) + 0.001

    def set_tasks(self, user_id: str, page_id: str, tasks: list[str]) -> None:
        """Give or take a person's tasks on a page (none at all: 190/492 for its tokens)."""
        with self.state() as world:
            roles = world["pages"][page_id]["roles"]
            if tasks:
                roles[user_id] = tasks
            else:
                roles.pop(user_id, None)

    def revoke_task(self, user_id: str, page_id: str, task: str = "MANAGE") -> None:
        with self.state() as world:
            roles = world["pages"][page_id]["roles"]
            roles[user_id] = [t for t in roles.get(user_id, []) if t != task]

    def set_published(self, page_id: str, published: bool) -> None:
        with self.state() as world:
            world["pages"][page_id]["is_published"] = published

    def set_data_access_expires_at(self, user_id: str, when: float) -> None:
        """Move the data-access expiry of every token this person holds (and their page tokens)."""
        with self.state() as world:
            for record in world["tokens"].values():
                if record["user_id"] == user_id:
                    record["data_access_expires_at"] = when

    def add_page(
        self, user_id: str, name: str, *, tasks: list[str] | None = None, published: bool = True
    ) -> str:
        with self.state() as world:
            page_id = str(300000000000000 + len(world["pages"]))
            add_page(world, page_id, name, {user_id: tasks or ALL_TASKS}, published=published)
        return page_id

    def advance_clock(self, seconds: float) -> None:
        with self.state() as world:
            world["clock_offset"] += seconds

    def name_of(self, object_id: str) -> str | None:
        """The name of a page, or of a customer by any of their page-scoped ids."""
        with self.state() as world:
            if page := world["pages"].get(object_id):
                return page["name"]
            for page_id in world["pages"]:
                if customer := customer_for(page_id, object_id):
                    return f"{customer['first_name']} {customer['last_name']}"
        return None

    def subscribed(self, page_id: str, field: str) -> bool:
        """Whether Facebook would send this page's ``field`` events to the app."""
        with self.state() as world:
            fields = world["pages"].get(page_id, {}).get("subscriptions", {}).get(self.app_id)
        return bool(fields) and field in fields

    def installed_pages(self) -> list[dict[str, Any]]:
        """Pages the app is installed on: the ones the customer simulator can write to."""
        with self.state() as world:
            return [p for p in world["pages"].values() if p["subscriptions"].get(self.app_id)]

    def remember(self, page_id: str, psid: str, key: str, value: str) -> None:
        """Keep a customer's last message or comment id, for reactions and edits."""
        with self.state() as world:
            world.setdefault("threads", {}).setdefault(f"{page_id}:{psid}", {})[key] = value

    def recall(self, page_id: str, psid: str, key: str) -> str | None:
        with self.state() as world:
            return world.get("threads", {}).get(f"{page_id}:{psid}", {}).get(key)

    def state_tokens(self) -> list[str]:
        """Every token ever issued (tests look for them where they must not be)."""
        with self.state() as world:
            return list(world["tokens"])

    def snapshot(self) -> dict[str, Any]:
        """Users and pages, for the sandbox's admin page and tests."""
        with self.state() as world:
            return {"users": world["users"], "pages": world["pages"], "now": self.now(world)}
