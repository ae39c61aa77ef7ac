"""What agents send: the states a reply goes through, and the files they attach."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import utcnow


class OutboundStatus(StrEnum):
    """Where a reply is on its way to Facebook."""

    QUEUED = "queued"
    SENDING = "sending"  # claimed with a lease; the HTTP call is under way
    UNCONFIRMED = "unconfirmed"  # Facebook's answer was lost: the echo settles it
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    HELD = "held"  # the page has no valid key: kept until it is reconnected


class Upload(db.Model):
    """A file an agent attached to a reply, kept in the database so every app server has it."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    mimetype: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
