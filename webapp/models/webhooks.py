"""What Facebook posted: each delivery's body as received, and its events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import enum_type, utcnow


class WebhookDelivery(db.Model):
    """One POST from Facebook, its body kept exactly as received.

    The request only stores it; the worker then reads its events out of the body
    (``unpacked_at``), so answering Facebook costs one INSERT.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The deliveries still to unpack: a handful among millions, so a partial index.
        Index(
            "ix_webhook_deliveries_unpack",
            "id",
            sqlite_where=text("unpacked_at IS NULL"),
            postgresql_where=text("unpacked_at IS NULL"),
        ),
        # The refused ones, for the Webhook log: a few among millions, and no cost to
        # a good delivery (nothing looks deliveries up by time, so no index on it).
        Index(
            "ix_webhook_deliveries_refused",
            "id",
            sqlite_where=text("error IS NOT NULL"),
            postgresql_where=text("error IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # None for a good body; why it was refused (400), or why its events could not be read.
    error: Mapped[str | None] = mapped_column(String(500))
    event_count: Mapped[int] = mapped_column(default=0)
    unpacked_at: Mapped[datetime | None]  # when its events were stored; None: not yet

    events: Mapped[list[WebhookEvent]] = relationship(
        back_populates="delivery", order_by="WebhookEvent.position"
    )


class EventStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    IGNORED = "ignored"
    FAILED = "failed"


class WebhookEvent(db.Model):
    """One event of a delivery and what processing made of it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_claim", "status", "next_attempt_at"),
        # A delivery's events are stored once: unpacking it twice would fail here.
        Index("ix_webhook_events_delivery", "delivery_id", "position", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"))
    position: Mapped[int]
    page_id: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[EventStatus] = mapped_column(enum_type(EventStatus), default=EventStatus.PENDING)
    outcome: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    tries: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    # Which process holds the lease (host:pid): a restarted server takes back a dead one's.
    lease_owner: Mapped[str | None] = mapped_column(String(80))
    processed_at: Mapped[datetime | None]

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="events")
