"""Where conversations come from: connected Facebook pages and the team's chat queues."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import enum_type, utcnow

if TYPE_CHECKING:
    from webapp.models.accounts import User


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
        enum_type(ChannelStatus), default=ChannelStatus.ACTIVE
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
    last_event_at: Mapped[datetime | None]
    # Facebook's messaging_policy_enforcement: "block" stops sends; admins see the reason.
    policy_block: Mapped[str | None] = mapped_column(String(1000))
    # Out-of-window messaging (reference §7): each needs Facebook's approval first.
    human_agent_enabled: Mapped[bool] = mapped_column(default=False)
    subscription_enabled: Mapped[bool] = mapped_column(default=False)
    subscription_use: Mapped[str | None] = mapped_column(String(500))
    # One term per line; None means Pagedesk's default list (webapp/facebook/policy.py).
    promotional_terms: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None]
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
