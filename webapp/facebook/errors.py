"""Typed errors from Facebook's error JSON, with messages a person can act on.

No message ever carries a token: Facebook's own texts do not, and transport
errors are re-raised without the request (whose URL may hold one) attached.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

# Codes Facebook documents as temporary or as throttling (reference §2.5, §6.3).
TRANSIENT_CODES = {1, 2, 1200}
RATE_LIMIT_CODES = {4, 17, 32, 341, 613, 80001}
PERMISSION_CODES = {3, 10} | set(range(200, 300))
TOKEN_CODES = {102, 190}
# Tags the Send API refuses with code 100: three retired on 27 April 2026, the rest
# on 4 March 2020 (reference §7.2).
RETIRED_TAGS = frozenset({
    "ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE",
    "PAIRING_UPDATE", "APPLICATION_UPDATE", "PAYMENT_UPDATE", "PERSONAL_FINANCE_UPDATE",
    "SHIPPING_UPDATE", "RESERVATION_UPDATE", "ISSUE_RESOLUTION", "APPOINTMENT_UPDATE",
    "GAME_EVENT", "TRANSPORTATION_UPDATE", "FEATURE_FUNCTIONALITY_UPDATE", "TICKET_UPDATE",
    "COMMUNITY_ALERT",
})  # fmt: skip


class TokenProblem(StrEnum):
    """Why Facebook refused a token (code 190's subcodes)."""

    INVALID = "invalid"
    APP_REMOVED = "app_removed"  # 458
    CHECKPOINT = "checkpoint"  # 459
    PASSWORD_CHANGED = "password_changed"  # 460  # noqa: S105 (a reason, not a secret)
    EXPIRED = "expired"  # 463
    UNCONFIRMED = "unconfirmed"  # 464
    LOGGED_OUT = "logged_out"  # 467
    NO_ROLE = "no_role"  # 492


SUBCODE_PROBLEMS = {
    458: TokenProblem.APP_REMOVED,
    459: TokenProblem.CHECKPOINT,
    460: TokenProblem.PASSWORD_CHANGED,
    463: TokenProblem.EXPIRED,
    464: TokenProblem.UNCONFIRMED,
    467: TokenProblem.LOGGED_OUT,
    492: TokenProblem.NO_ROLE,
}

PROBLEM_TEXT = {
    TokenProblem.INVALID: "Facebook no longer accepts this page's access key.",
    TokenProblem.APP_REMOVED: "The person who connected the page removed the app on Facebook.",
    TokenProblem.CHECKPOINT: "Facebook locked the connecting person's account for a check.",
    TokenProblem.PASSWORD_CHANGED: "The person who connected the page changed their Facebook "
    "password, which ends the access key.",
    TokenProblem.EXPIRED: "The page's access key has expired.",
    TokenProblem.UNCONFIRMED: "The connecting person's Facebook account is not confirmed.",
    TokenProblem.LOGGED_OUT: "The connecting person logged out of Facebook everywhere.",
    TokenProblem.NO_ROLE: "The person who connected the page no longer has a role on it.",
}


class GraphError(Exception):
    """Facebook answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        subcode: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again later may succeed."""
        return False

    @property
    def explanation(self) -> str:
        """A sentence for the people using Pagedesk."""
        return f"Facebook refused the request: {self}"


class TokenInvalidError(GraphError):
    """The access token is dead (code 190 and friends); someone must log in again."""

    @property
    def problem(self) -> TokenProblem:
        return SUBCODE_PROBLEMS.get(self.subcode or 0, TokenProblem.INVALID)

    @property
    def explanation(self) -> str:
        return PROBLEM_TEXT[self.problem]


class PermissionMissingError(GraphError):
    @property
    def explanation(self) -> str:
        return (
            "Facebook says the app lacks a permission for this page."
            " Connect it again and allow every permission asked for."
        )


class RateLimitedError(GraphError):
    @property
    def retryable(self) -> bool:
        return True

    @property
    def explanation(self) -> str:
        return "Facebook is limiting how often we can call it. Try again in a few minutes."


class TransientError(GraphError):
    @property
    def retryable(self) -> bool:
        return True

    @property
    def explanation(self) -> str:
        return "Facebook had a temporary problem. Try again in a moment."


class BadRequestError(GraphError):
    pass


class OutcomeUnknownError(GraphError):
    """The request reached Facebook but its answer did not reach us (1/1357046, a lost reply).

    Not retryable by a plain resend: the message may be out already, and only its
    echo (or the feed webhook of a public reply) tells.
    """

    @property
    def explanation(self) -> str:
        return (
            "Facebook's answer got lost; the message may have been sent. Pagedesk waits for"
            " Facebook's confirmation before trying again."
        )


class WindowClosedError(GraphError):
    """10/2018278 and friends: outside the 24-hour window, or a tag's 7 days are over."""

    @property
    def explanation(self) -> str:
        return (
            "Facebook refused: the 24-hour reply window has closed (the customer's last"
            " message is more than 24 hours old)."
        )


class RecipientUnavailableError(GraphError):
    """551, 200/1545041, 10/2018108: blocked the page, deactivated, or restricted."""

    @property
    def explanation(self) -> str:
        return (
            "This person isn't available on Messenger right now (they may have blocked the"
            " page or closed their account)."
        )


class AlreadyRepliedPrivatelyError(GraphError):
    """10900: a comment takes one private reply only."""

    @property
    def explanation(self) -> str:
        return (
            "The page already replied privately to this comment; Facebook allows only one"
            " private reply per comment."
        )


class CannotReplyPrivatelyError(GraphError):
    """10903: no private reply possible (too old, deleted, or written by a page)."""

    @property
    def explanation(self) -> str:
        return (
            "Facebook won't let the page reply privately to this comment (it may be more"
            " than 7 days old, deleted, or written by a page). Reply publicly instead."
        )


class PolicyBlockedError(GraphError):
    """368: the page is blocked for policy violations; a person must look."""

    @property
    def explanation(self) -> str:
        return (
            "Facebook has temporarily blocked this page from sending for breaking its"
            " policies. An admin must check the page on Facebook."
        )


class RetiredTagError(BadRequestError):
    """Code 100 for a message tag Facebook no longer accepts."""

    @property
    def explanation(self) -> str:
        return "Facebook no longer accepts this message tag."


class NoMatchingUserError(BadRequestError):
    """100/2018001: the PSID is unknown to this page (wrong page or app, or gone)."""

    @property
    def explanation(self) -> str:
        return (
            "Facebook doesn't know this person for this page (the id belongs to another page"
            " or app, or the account is gone)."
        )


# (code, subcode) pairs first, then codes whatever their subcode (reference §6.3).
BY_CODE_AND_SUBCODE: dict[tuple[int, int], type[GraphError]] = {
    (1, 1357046): OutcomeUnknownError,  # "the message may still have been sent"
    (10, 2018278): WindowClosedError,
    (10, 2018065): WindowClosedError,
    (10, 2018108): RecipientUnavailableError,
    (200, 1545041): RecipientUnavailableError,  # not the window: "isn't receiving messages"
    (100, 2018001): NoMatchingUserError,
}
BY_CODE: dict[int, type[GraphError]] = {
    **dict.fromkeys(TOKEN_CODES, TokenInvalidError),
    **dict.fromkeys(RATE_LIMIT_CODES, RateLimitedError),
    1545041: WindowClosedError,  # the Send-a-Message page's "messaging window closed"
    551: RecipientUnavailableError,
    10900: AlreadyRepliedPrivatelyError,
    10903: CannotReplyPrivatelyError,
    368: PolicyBlockedError,
}
TAG_TALK = re.compile(r"\btag\b.*\b(retired|deprecated|no longer)\b", re.IGNORECASE | re.DOTALL)


def error_from(status: int, body: Any) -> GraphError:
    """The typed error for a Graph error response (``{"error": {...}}``)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        if status >= 500:
            return TransientError(f"Facebook answered HTTP {status}.")
        return BadRequestError(f"Facebook answered HTTP {status} without an error description.")
    code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
    message = str(error.get("message") or "Unknown error")
    kind = _kind(status, code, subcode, message, transient=error.get("is_transient") is True)
    return kind(
        message, code=code, subcode=subcode, error_type=error.get("type"),
        fbtrace_id=error.get("fbtrace_id"),
    )  # fmt: skip


def _kind(
    status: int, code: int | None, subcode: int | None, message: str, *, transient: bool
) -> type[GraphError]:
    if code is not None and subcode is not None and (code, subcode) in BY_CODE_AND_SUBCODE:
        return BY_CODE_AND_SUBCODE[(code, subcode)]
    if code in BY_CODE:
        return BY_CODE[code]
    if code == 100 and _about_a_retired_tag(message):
        return RetiredTagError
    if code in TRANSIENT_CODES or status >= 500 or transient:
        return TransientError
    if code in PERMISSION_CODES:
        return PermissionMissingError
    return BadRequestError


def _about_a_retired_tag(message: str) -> bool:
    # Facebook's exact wording is unconfirmed: a retired tag's name, or talk of a retired tag.
    words = set(re.findall(r"[A-Z_]{4,}", message))
    return bool(words & RETIRED_TAGS) or bool(TAG_TALK.search(message))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
