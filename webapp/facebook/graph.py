"""The Graph API client: the one place that knows Facebook's URLs and parameters."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import certifi
import httpx

from webapp.facebook.errors import GraphError, OutcomeUnknownError, TransientError, error_from
from webapp.facebook.messaging import MessagingMixin
from webapp.facebook.messaging import SendResult as SendResult  # re-exported

# Everything a helpdesk needs from a page (reference §4.4).
SUBSCRIBED_FIELDS = (
    "messages",
    "messaging_postbacks",
    "message_echoes",
    "message_reads",
    "message_deliveries",
    "message_reactions",
    "message_edits",
    "feed",
)
PAGE_FIELDS = "id,name,access_token,category,category_list,tasks,is_published,picture"


@dataclass(frozen=True)
class TokenGrant:
    """A user access token and how long Facebook says it lives."""

    access_token: str = field(repr=False)
    expires_in: int | None


@dataclass(frozen=True)
class PageAccount:
    """One page of ``/me/accounts``: what the person may do there, and its token."""

    id: str
    name: str
    access_token: str = field(repr=False)
    tasks: tuple[str, ...]
    is_published: bool
    picture_url: str | None
    category: str | None

    @property
    def fully_administered(self) -> bool:
        return "MANAGE" in self.tasks


@dataclass(frozen=True)
class TokenInfo:
    """What ``/debug_token`` says about a token (times as aware datetimes; None = never)."""

    is_valid: bool
    type: str | None
    app_id: str | None
    user_id: str | None
    profile_id: str | None
    scopes: tuple[str, ...]
    expires_at: datetime | None
    data_access_expires_at: datetime | None
    error_code: int | None = None
    error_subcode: int | None = None
    error_message: str | None = None


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA bundle costs ~45 ms, a client is per request."""
    return ssl.create_default_context(cafile=certifi.where())


def _timestamp(value: Any) -> datetime | None:
    """Facebook's Unix seconds; 0 or absent means never."""
    seconds = int(value or 0)
    return datetime.fromtimestamp(seconds, UTC) if seconds else None


class GraphClient(MessagingMixin):
    """Calls the Graph API with httpx; raises :mod:`webapp.facebook.errors` types.

    Tokens travel in the ``Authorization`` header, never in a URL, so no access
    log or exception message can show them.
    """

    def __init__(
        self,
        *,
        graph_url: str,
        version: str,
        app_id: str,
        app_secret: str,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.app_id = app_id
        self._app_secret = app_secret
        self._http = httpx.Client(
            base_url=f"{graph_url.rstrip('/')}/{version}/",
            timeout=httpx.Timeout(timeout, connect=5.0),
            transport=transport,
            headers={"Accept": "application/json"},
            verify=tls_context(),
        )

    def close(self) -> None:
        self._http.close()

    @property
    def app_token(self) -> str:
        return f"{self.app_id}|{self._app_secret}"

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str,
        params: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        json: Any = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        acts_once: bool = False,
    ) -> Any:
        """One Graph call; the JSON answer, or a typed :class:`GraphError`.

        ``acts_once`` marks a call that must not happen twice (a message, a public
        reply): once it may have reached Facebook, a lost answer is an
        :class:`OutcomeUnknownError`, not a transient one.
        """
        try:
            response = self._http.request(
                method,
                path.lstrip("/"),
                params=params,
                data=data,
                json=json,
                files=files,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as error:
            raise _transport_error(error, acts_once=acts_once) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error or (isinstance(body, dict) and "error" in body):
            raise error_from(response.status_code, body)
        if body is None:
            raise GraphError(f"Facebook answered HTTP {response.status_code} without JSON.")
        return body

    def exchange_for_long_lived(self, user_token: str) -> TokenGrant:
        """Trade a short-lived user token for a 60-day one (reference §1.3)."""
        body = self.request(
            "POST",
            "oauth/access_token",
            token=user_token,
            data={
                "grant_type": "fb_exchange_token",
                "client_id": self.app_id,
                "client_secret": self._app_secret,
                "fb_exchange_token": user_token,
            },
        )
        return TokenGrant(body["access_token"], body.get("expires_in"))

    def me(self, user_token: str) -> dict[str, Any]:
        """The person the token belongs to: ``{"id", "name"}``."""
        return self.request("GET", "me", token=user_token, params={"fields": "id,name"})

    def pages(self, user_token: str, *, page_size: int = 25) -> list[PageAccount]:
        """Every page the person has a role on, following ``paging.next`` to the end."""
        return list(self._iter_pages(user_token, page_size))

    def _iter_pages(self, user_token: str, page_size: int) -> Iterator[PageAccount]:
        params: dict[str, Any] = {"fields": PAGE_FIELDS, "limit": page_size}
        while True:
            body = self.request("GET", "me/accounts", token=user_token, params=params)
            for item in body.get("data", []):
                yield _page_account(item)
            paging = body.get("paging") or {}
            if not paging.get("next"):  # no "next": this was the last result page
                return
            params = {**params, "after": paging["cursors"]["after"]}

    def user_profile(self, psid: str, page_token: str) -> dict[str, Any]:
        """A Messenger user's name and picture (User Profile API, reference §8.3)."""
        return self.request(
            "GET", psid, token=page_token, params={"fields": "first_name,last_name,profile_pic"}
        )

    def debug_token(self, input_token: str) -> TokenInfo:
        """Validity, expiry and data-access expiry of any token (reference §3)."""
        body = self.request(
            "GET", "debug_token", token=self.app_token, params={"input_token": input_token}
        )
        data = body.get("data", {})
        error = data.get("error") or {}
        return TokenInfo(
            is_valid=bool(data.get("is_valid")),
            type=data.get("type"),
            app_id=_str(data.get("app_id")),
            user_id=_str(data.get("user_id")),
            profile_id=_str(data.get("profile_id")),
            scopes=tuple(data.get("scopes") or ()),
            expires_at=_timestamp(data.get("expires_at")),
            data_access_expires_at=_timestamp(data.get("data_access_expires_at")),
            error_code=error.get("code"),
            error_subcode=error.get("subcode"),
            error_message=error.get("message"),
        )

    def subscribe_app(
        self, page_id: str, page_token: str, fields: tuple[str, ...] = SUBSCRIBED_FIELDS
    ) -> None:
        """Install the app on the page for these webhook fields (the full list each time)."""
        body = self.request(
            "POST",
            f"{page_id}/subscribed_apps",
            token=page_token,
            data={"subscribed_fields": ",".join(fields)},
        )
        _require_success(body)

    def subscribed_fields(self, page_id: str, page_token: str) -> tuple[str, ...]:
        """The fields this app is subscribed to on the page; empty when it is not installed."""
        body = self.request("GET", f"{page_id}/subscribed_apps", token=page_token)
        for app in body.get("data", []):
            if _str(app.get("id")) == self.app_id:
                return tuple(app.get("subscribed_fields") or ())
        return ()

    def unsubscribe_app(self, page_id: str, page_token: str) -> None:
        """Uninstall the app from the page: no more webhooks from it."""
        _require_success(self.request("DELETE", f"{page_id}/subscribed_apps", token=page_token))


# Failures that happen before a request leaves: Facebook cannot have acted on it.
NOT_SENT = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError,
    httpx.UnsupportedProtocol, httpx.LocalProtocolError,
)  # fmt: skip


def _transport_error(error: httpx.HTTPError, *, acts_once: bool) -> GraphError:
    """The typed error for a call that got no answer (no request attached: URLs hold ids)."""
    if acts_once and not isinstance(error, NOT_SENT):
        return OutcomeUnknownError("Facebook's answer was lost after the request was sent.")
    if isinstance(error, httpx.TimeoutException):
        return TransientError("Facebook did not answer in time.")
    return TransientError("Facebook could not be reached.")


def _str(value: Any) -> str | None:
    # Ids are strings: some exceed 2**53 and must never pass through a float.
    return None if value is None else str(value)


def _require_success(body: Any) -> None:
    # The docs print {"success": "true"}; integrations see a JSON boolean. Accept both.
    if not isinstance(body, dict) or body.get("success") not in (True, "true"):
        raise GraphError("Facebook did not confirm the change.")


def _page_account(item: dict[str, Any]) -> PageAccount:
    picture = (item.get("picture") or {}).get("data") or {}
    return PageAccount(
        id=str(item["id"]),
        name=str(item.get("name") or ""),
        access_token=str(item.get("access_token") or ""),
        tasks=tuple(item.get("tasks") or ()),
        is_published=bool(item.get("is_published", True)),
        picture_url=picture.get("url"),
        category=item.get("category"),
    )
