"""What the Webhook log shows: recent deliveries and events."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from webapp.models import Channel, WebhookDelivery, WebhookEvent

PAGE_SIZE = 100


def recent_events(
    session: Session, *, status: str | None = None, page_id: str | None = None
) -> list[WebhookEvent]:
    """The newest events first, optionally only one outcome or one page."""
    query = select(WebhookEvent).order_by(WebhookEvent.id.desc()).limit(PAGE_SIZE)
    if status:
        query = query.where(WebhookEvent.status == status)
    if page_id:
        query = query.where(WebhookEvent.page_id == page_id)
    return list(session.scalars(query))


def waiting(session: Session) -> int:
    """Deliveries stored whose events the worker has not read out yet."""
    query = select(func.count(WebhookDelivery.id)).where(WebhookDelivery.unpacked_at.is_(None))
    return session.scalar(query) or 0


def rejected(session: Session) -> list[WebhookDelivery]:
    """Signed deliveries refused as malformed (400), or whose events could not be read."""
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.error.is_not(None))
        .order_by(WebhookDelivery.id.desc())
        .limit(20)
    )
    return list(session.scalars(query))


def pages(session: Session) -> dict[str, str]:
    """Page ids and names, for the filter."""
    return {
        page_id: name for page_id, name in session.execute(select(Channel.page_id, Channel.name))
    }


def get_delivery(session: Session, delivery_id: int) -> WebhookDelivery | None:
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .options(selectinload(WebhookDelivery.events))
    )
    return session.scalar(query)
