"""Typed errors from Facebook's error JSON, with messages a person can act on.

No message ever carries a token: Facebook's own texts do not, and transport
errors are re-raised without the request (whose URL may hold one) attached.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

# Codes Facebook documents as temporary or as throttling (reference §2.5, §6.3).
TRANSIENT_CODES = {1, 2}
RATE_LIMIT_CODES = {4, 17, 32, 341, 613, 80001}
PERMISSION_CODES = {3, 10} | set(range(200, 300))
TOKEN_CODES = {102, 190}


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
    def explanation(self) -> str:
        return "Facebook is limiting how often we can call it. Try again in a few minutes."


class TransientError(GraphError):
    @property
    def explanation(self) -> str:
        return "Facebook had a temporary problem. Try again in a moment."


class BadRequestError(GraphError):
    pass


def error_from(status: int, body: Any) -> GraphError:
    """The typed error for a Graph error response (``{"error": {...}}``)."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        if status >= 500:
            return TransientError(f"Facebook answered HTTP {status}.")
        return BadRequestError(f"Facebook answered HTTP {status} without an error description.")
    code = _int(error.get("code"))
    fields = {
        "code": code,
        "subcode": _int(error.get("error_subcode")),
        "error_type": error.get("type"),
        "fbtrace_id": error.get("fbtrace_id"),
    }
    message = str(error.get("message") or "Unknown error")
    if code in TOKEN_CODES:
        return TokenInvalidError(message, **fields)
    if code in RATE_LIMIT_CODES:
        return RateLimitedError(message, **fields)
    if code in TRANSIENT_CODES or status >= 500 or error.get("is_transient") is True:
        return TransientError(message, **fields)
    if code in PERMISSION_CODES:
        return PermissionMissingError(message, **fields)
    return BadRequestError(message, **fields)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
