"""Connected Facebook pages, as the helpdesk sees them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.models import Channel


def list_page_channels(session: Session) -> list[Channel]:
    """Every connected page, by name."""
    return list(session.scalars(select(Channel).order_by(func.lower(Channel.name))))
