"""Connected Facebook pages, as the helpdesk sees and describes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from webapp.facebook import content, policy
from webapp.helpdesk.errors import DomainError
from webapp.models import Channel, ChannelStatus, ChatChannel, utcnow

SUBSCRIPTION_USE_MAX = 500  # the column's width

STATUS_LABELS = {
    ChannelStatus.ACTIVE: "Active",
    ChannelStatus.EXPIRING: "Expiring soon",
    ChannelStatus.EXPIRED: "Expired",
    ChannelStatus.ACCESS_LOST: "Access lost",
    ChannelStatus.DISCONNECTED: "Disconnected",
}


@dataclass(frozen=True)
class ChannelView:
    """A page in the channel list: its status in words and when its key lapses."""

    channel: Channel
    status: ChannelStatus
    reason: str | None
    key_expires_at: datetime | None
    days_left: int | None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


def list_page_channels(session: Session) -> list[Channel]:
    """Every connected page, by name."""
    return list(session.scalars(select(Channel).order_by(func.lower(Channel.name))))


def describe(channel: Channel, *, warn_days: int, now: datetime | None = None) -> ChannelView:
    """How the channel list shows a page; an active key lapsing within ``warn_days`` warns."""
    now = now or utcnow()
    lapses = channel.key_expires_at
    days_left = None if lapses is None else max((lapses - now).days, 0)
    status, reason = channel.status, channel.status_reason
    if status is ChannelStatus.ACTIVE and days_left is not None and days_left <= warn_days:
        status = ChannelStatus.EXPIRING
        reason = f"Its access key lapses in {days_left} days: reconnect it before then."
    return ChannelView(channel, status, reason, lapses, days_left)


def update_routing(
    session: Session,
    *,
    channel: Channel,
    messenger_chat_id: int | None,
    comments_chat_id: int | None,
) -> Channel:
    """Send Messenger messages and comments to tickets (None) or to a chat channel."""
    for chat_id in (messenger_chat_id, comments_chat_id):
        if chat_id is not None and session.get(ChatChannel, chat_id) is None:
            raise DomainError("That chat channel no longer exists. Pick another.")
    channel.messenger_chat_id = messenger_chat_id
    channel.comments_chat_id = comments_chat_id
    session.commit()
    return channel


def messaging_rules(channel: Channel) -> policy.Rules:
    """What this page may send after the 24-hour window, for the policy functions."""
    return policy.Rules(
        human_agent_enabled=channel.human_agent_enabled,
        subscription_enabled=channel.subscription_enabled,
    )


def promotional_terms_for(channel: Channel) -> tuple[str, ...]:
    """The words that mark a message as promotional on this page (the default list if unset)."""
    return content.parse_terms(channel.promotional_terms)


def update_messaging_rules(
    session: Session,
    *,
    channel: Channel,
    human_agent_enabled: bool,
    subscription_enabled: bool,
    subscription_use: str | None,
    promotional_terms: str | None,
) -> Channel:
    """Save how a page may reply after 24 hours, and which words count as promotional.

    The default list saved unchanged is stored as None, so the page follows
    Pagedesk's list if that improves.
    """
    use = " ".join((subscription_use or "").split()) or None
    if subscription_enabled and use is None:
        raise DomainError(
            "Say what Facebook approved subscription messages for: they can't be turned on"
            " without it."
        )
    if use is not None and len(use) > SUBSCRIPTION_USE_MAX:
        raise DomainError(
            f"Describe the approved use in {SUBSCRIPTION_USE_MAX} characters or fewer."
        )
    channel.human_agent_enabled = human_agent_enabled
    channel.subscription_enabled = subscription_enabled
    channel.subscription_use = use
    channel.promotional_terms = content.terms_to_store(promotional_terms)
    session.commit()
    return channel
