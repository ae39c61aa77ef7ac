"""The database tables: columns, relationships and small derived properties."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import Enum, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def new_session_token() -> str:
    """A random token naming one generation of a user's sign-ins."""
    return secrets.token_urlsafe(32)


def _enum(cls: type[StrEnum]) -> Enum:
    # Stored as plain strings: readable in SQL, and a new value needs no type migration.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class User(UserMixin, db.Model):
    """A person on the support team."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.AGENT)
    active: Mapped[bool] = mapped_column(default=True)
    # Flask-Login keeps this token in the session instead of the id: rotating it
    # (deactivation, password reset) signs the person out everywhere at once.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return self.session_token


class LoginAttempt(db.Model):
    """One sign-in try, kept for a day to throttle guessing across all app processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ChatChannel(db.Model):
    """A named live chat queue, such as "Support chat" or "Sales chat"."""

    __tablename__ = "chat_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    ACCESS_LOST = "access_lost"
    DISCONNECTED = "disconnected"


class Channel(db.Model):
    """A connected Facebook Page and where its conversations go."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    picture_url: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[ChannelStatus] = mapped_column(
        _enum(ChannelStatus), default=ChannelStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    # Both tokens are Fernet ciphertext (see helpdesk/vault.py), never plain.
    page_token_sealed: Mapped[str | None] = mapped_column(Text)
    user_token_sealed: Mapped[str | None] = mapped_column(Text)
    facebook_user_id: Mapped[str | None] = mapped_column(String(32))
    facebook_user_name: Mapped[str | None] = mapped_column(String(200))
    # None: never. The key lapses at the earlier of the two (see key_expires_at).
    expires_at: Mapped[datetime | None]
    data_access_expires_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # None routes to tickets, the default the help article promises.
    messenger_chat_id: Mapped[int | None] = mapped_column(ForeignKey("chat_channels.id"))
    comments_chat_id: Mapped[int | None] = mapped_column(ForeignKey("chat_channels.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    connected_by: Mapped[User | None] = relationship()
    messenger_chat: Mapped[ChatChannel | None] = relationship(foreign_keys=[messenger_chat_id])
    comments_chat: Mapped[ChatChannel | None] = relationship(foreign_keys=[comments_chat_id])

    @property
    def key_expires_at(self) -> datetime | None:
        """When the access key lapses: the earlier of a set ``expires_at`` and data access."""
        dates = [d for d in (self.expires_at, self.data_access_expires_at) if d is not None]
        return min(dates, default=None)


class PendingConnection(db.Model):
    """Between Facebook Login and the admin's choice of pages: kept 15 minutes, sealed."""

    __tablename__ = "pending_connections"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    facebook_user_id: Mapped[str] = mapped_column(String(32))
    facebook_user_name: Mapped[str] = mapped_column(String(200))
    user_token_sealed: Mapped[str] = mapped_column(Text)
    pages_sealed: Mapped[str] = mapped_column(Text)  # the /me/accounts list, page tokens included
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
