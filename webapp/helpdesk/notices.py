"""What admins are told about a page's key: reminders before it lapses, a warning once lost.

A notice row is unique per (channel, kind, episode), the episode being the
connection (its ``connected_at``): a reminder is owed once per threshold per
connection, whatever restarts or extra schedulers happen. Its emails are
written afterwards, by whoever runs :func:`compose_pending` first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.helpdesk import mail
from webapp.helpdesk.once import insert_once
from webapp.models import Channel, ChannelStatus, Notice, Role, User

LOST = "lost"
LOST_STATUSES = (ChannelStatus.EXPIRED, ChannelStatus.ACCESS_LOST)
CONNECT_PATH = "/channels/facebook/connect"


def episode(channel: Channel) -> str:
    """Which connection of the page a notice is about: a reconnect starts a new one."""
    return channel.connected_at.isoformat() if channel.connected_at else "first"


def record(
    session: Session, *, channel: Channel, kind: str, passed_at: datetime | None = None
) -> bool:
    """Owe the admins this notice, unless it is already owed or sent (not committed).

    With ``passed_at`` the notice is only marked as done: nobody is emailed for it.
    """
    session.flush()
    inserted = insert_once(
        session,
        Notice,
        ["channel_id", "kind", "episode"],
        channel_id=channel.id,
        kind=kind,
        episode=episode(channel),
        mailed_at=passed_at,
    )
    return inserted is not None


def queue_reminders(session: Session, *, thresholds: tuple[int, ...], now: datetime) -> list[str]:
    """send-reminders: a reminder for each page whose key lapses within a threshold.

    A page found late (5 days left with thresholds 14 and 7) gets the tightest
    one only; the wider ones are marked as passed so they never follow.
    """
    lines = []
    channels = session.scalars(select(Channel).where(Channel.status == ChannelStatus.ACTIVE))
    for channel in list(channels):
        lapses = channel.key_expires_at
        if lapses is None or lapses <= now:
            continue
        crossed = sorted(t for t in thresholds if lapses - now <= timedelta(days=t))
        if crossed and record(session, channel=channel, kind=f"expiry:{crossed[0]}"):
            for wider in crossed[1:]:
                record(session, channel=channel, kind=f"expiry:{wider}", passed_at=now)
            session.flush()
            lines.append(
                f"{channel.name}: reminder queued, its key lapses {lapses:%-d %b %Y}"
                f" (within {crossed[0]} day{'s' if crossed[0] != 1 else ''})."
            )
        session.commit()
    return lines or ["No reminder due."]


def compose_pending(session: Session, *, base_url: str, now: datetime) -> int:
    """Write the emails of every notice still owed, one per active admin; how many."""
    written = 0
    ids = list(session.scalars(select(Notice.id).where(Notice.mailed_at.is_(None))))
    session.commit()
    for notice_id in ids:
        claimed = session.execute(
            update(Notice)
            .where(Notice.id == notice_id, Notice.mailed_at.is_(None))
            .values(mailed_at=now)
        )
        notice = session.get(Notice, notice_id)
        if claimed.rowcount == 1 and notice is not None:  # type: ignore[attr-defined]
            written += _write(session, notice, base_url)
        session.commit()
    return written


def _still_true(notice: Notice, channel: Channel | None) -> bool:
    if channel is None or notice.episode != episode(channel):
        return False  # reconnected (or gone) since: nothing to tell
    if notice.kind == LOST:
        return channel.status in LOST_STATUSES
    return channel.status is ChannelStatus.ACTIVE and channel.key_expires_at is not None


def _write(session: Session, notice: Notice, base_url: str) -> int:
    channel = session.get(Channel, notice.channel_id)
    if channel is None or not _still_true(notice, channel):
        return 0
    base = base_url.rstrip("/")
    context = {
        "page": channel.name,
        "person": channel.facebook_user_name or "the person who connected it",
        "lapses": channel.key_expires_at,
        "reason": channel.status_reason or "Facebook no longer accepts the page's access key.",
        "reconnect_url": base + CONNECT_PATH,
        "channels_url": base + "/channels",
    }
    if notice.kind == LOST:
        name = "access_lost"
        subject = f"Action needed: reconnect the Facebook page “{channel.name}” now"
    else:
        name = "reminder"
        subject = (
            f"Action needed: reconnect the Facebook page “{channel.name}”"
            f" before {channel.key_expires_at:%-d %B}"
        )
    text, html = mail.render(name, **context)
    admins = session.scalars(
        select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
    )
    count = 0
    for admin in admins:
        mail.queue(session, to=admin.email, subject=subject, text=text, html=html)
        count += 1
    return count
