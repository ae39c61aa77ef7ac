"""A page Pagedesk can no longer use: the one rule for marking it and holding its replies.

Both the key checks (``check-tokens``) and the outbox (a send refused with code
190) come here, so neither needs the other.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from webapp.facebook.errors import TokenInvalidError, TokenProblem
from webapp.helpdesk import notices
from webapp.models import Channel, ChannelStatus, Message, OutboundStatus

log = logging.getLogger(__name__)

LOST = (ChannelStatus.EXPIRED, ChannelStatus.ACCESS_LOST)


def mark_lost(
    session: Session, *, channel: Channel, status: ChannelStatus, reason: str, now: datetime
) -> int:
    """The page can't be used: mark it, hold its replies, owe the admins one email.

    Returns how many replies were held; does not commit.
    """
    if channel.status not in LOST:
        log.warning("Facebook page %s lost access: %s", channel.page_id, reason)
    channel.status, channel.status_reason = status, reason
    channel.last_checked_at = channel.last_checked_at or now
    held = hold_replies(session, channel_id=channel.id)
    notices.record(session, channel=channel, kind=notices.LOST)
    return held


def mark_token_refused(
    session: Session, *, channel: Channel, error: TokenInvalidError, now: datetime
) -> int:
    """Facebook refused the page's key on a call (code 190): expired, or access lost."""
    status = (
        ChannelStatus.EXPIRED
        if error.problem is TokenProblem.EXPIRED
        else ChannelStatus.ACCESS_LOST
    )
    return mark_lost(session, channel=channel, status=status, reason=error.explanation, now=now)


def hold_replies(session: Session, *, channel_id: int) -> int:
    """The page lost its key: its queued replies wait (held). Does not commit."""
    return session.execute(
        update(Message)
        .where(Message.channel_id == channel_id, Message.status == OutboundStatus.QUEUED)
        .values(status=OutboundStatus.HELD, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
