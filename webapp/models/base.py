"""What every table module shares: the clock, random tokens, enums stored as strings."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import Enum


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def new_session_token() -> str:
    """A random token naming one generation of a user's sign-ins."""
    return secrets.token_urlsafe(32)


def enum_type(cls: type[StrEnum]) -> Enum:
    # Stored as plain strings: readable in SQL, and a new value needs no type migration.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
