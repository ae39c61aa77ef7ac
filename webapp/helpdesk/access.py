"""check-tokens: is each connected page's key still good, and can Pagedesk still use it?

A page token from a long-lived user token shows no expiry, yet dies on a
password change (190/460), a removed app (190/458) or a lost role (190/492);
data access lapses 90 days after the connecting person's login (reference §2-§4).
Facebook also drops an app's webhook subscription after an hour of failed
deliveries, so the subscription is checked and renewed here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.facebook.errors import GraphError, PermissionMissingError, TokenInvalidError
from webapp.facebook.graph import SUBSCRIBED_FIELDS, GraphClient, TokenInfo
from webapp.helpdesk.kit import FacebookKit
from webapp.helpdesk.lost_access import LOST, mark_lost
from webapp.helpdesk.vault import VaultError
from webapp.models import Channel, ChannelStatus

log = logging.getLogger(__name__)

NO_ROLE = 492


@dataclass
class Finding:
    """What Facebook said about one page: access gone (and why), new dates, notes."""

    status: ChannelStatus | None = None
    reason: str | None = None
    expires_at: datetime | None = None
    data_access_expires_at: datetime | None = None
    notes: list[str] = field(default_factory=list)
    unsure: str | None = None  # Facebook could not be asked: nothing is changed


@dataclass(frozen=True)
class Subject:
    """The page under check, read from the database before any call to Facebook."""

    page_id: str
    page_token: str
    user_token: str | None
    person: str


def check_all(session: Session, *, kit: FacebookKit, now: datetime) -> list[str]:
    """Check every connected page; one line per page saying what was found or done."""
    ids = list(
        session.scalars(
            select(Channel.id)
            .where(Channel.status != ChannelStatus.DISCONNECTED)
            .order_by(Channel.name)
        )
    )
    session.commit()
    lines = [check_channel(session, kit=kit, channel_id=channel_id, now=now) for channel_id in ids]
    return lines or ["No connected pages to check."]


def check_channel(session: Session, *, kit: FacebookKit, channel_id: int, now: datetime) -> str:
    """Check one page and record the outcome; its line for the job's summary."""
    channel = session.get(Channel, channel_id)
    if channel is None:
        return f"Channel {channel_id}: gone."
    if channel.status in LOST:
        return f"{channel.name}: waiting to be reconnected ({channel.status_reason})"
    try:
        subject = Subject(
            page_id=channel.page_id,
            page_token=kit.vault.open(channel.page_token_sealed or ""),
            user_token=kit.vault.open(channel.user_token_sealed)
            if channel.user_token_sealed
            else None,
            person=channel.facebook_user_name or "The person who connected the page",
        )
    except VaultError as error:
        finding = Finding(ChannelStatus.EXPIRED, str(error))
    else:
        session.commit()  # no transaction stays open while Facebook is asked
        finding = inspect(kit.graph, subject, now=now)
        channel = session.get(Channel, channel_id)
        if channel is None:
            return f"Channel {channel_id}: gone."
    return _record(session, channel, finding, now)


def _record(session: Session, channel: Channel, finding: Finding, now: datetime) -> str:
    name = channel.name
    if finding.unsure:
        session.rollback()
        return f"{name}: not checked this time. {finding.unsure}"
    channel.last_checked_at = now
    if finding.expires_at or finding.data_access_expires_at:
        channel.expires_at = finding.expires_at
        channel.data_access_expires_at = finding.data_access_expires_at
    if finding.status is not None:
        held = mark_lost(
            session, channel=channel, status=finding.status, reason=finding.reason or "", now=now
        )
        lines = [f"{name}: {finding.status.value.replace('_', ' ')}: {finding.reason}"]
        lines.append(f"{held} repl{'y' if held == 1 else 'ies'} held.")
    else:
        lapses = channel.key_expires_at
        lines = [f"{name}: OK, key lapses {lapses:%-d %b %Y}." if lapses else f"{name}: OK."]
    session.commit()
    return " ".join(lines + finding.notes)


def inspect(graph: GraphClient, subject: Subject, *, now: datetime) -> Finding:
    """Ask Facebook about the page's keys, its person's role, the page, the subscription."""
    try:
        page_info = graph.debug_token(subject.page_token)
        if not page_info.is_valid:
            return _dead(page_info)
        user_info = graph.debug_token(subject.user_token) if subject.user_token else None
        finding = _dates(page_info, user_info, subject, now)
        if finding.status is None and user_info is not None:
            _check_role(graph, subject, user_info, finding)
        if finding.status is None:
            _check_subscription(graph, subject, finding)
        return finding
    except TokenInvalidError as error:
        status = ChannelStatus.ACCESS_LOST if error.subcode == NO_ROLE else ChannelStatus.EXPIRED
        return Finding(status, error.explanation)
    except PermissionMissingError as error:
        return Finding(ChannelStatus.ACCESS_LOST, error.explanation)
    except GraphError as error:
        return Finding(unsure=error.explanation)


def _dead(info: TokenInfo) -> Finding:
    error = TokenInvalidError(
        info.error_message or "Invalid token", code=info.error_code, subcode=info.error_subcode
    )
    status = ChannelStatus.ACCESS_LOST if error.subcode == NO_ROLE else ChannelStatus.EXPIRED
    return Finding(status, error.explanation)


def _dates(
    page_info: TokenInfo, user_info: TokenInfo | None, subject: Subject, now: datetime
) -> Finding:
    infos = [page_info] + ([user_info] if user_info else [])
    lapses = [i.data_access_expires_at for i in infos if i.data_access_expires_at]
    finding = Finding(
        expires_at=page_info.expires_at, data_access_expires_at=min(lapses, default=None)
    )
    if finding.data_access_expires_at and finding.data_access_expires_at <= now:
        finding.status = ChannelStatus.EXPIRED
        finding.reason = (
            f"Facebook's data access for this page lapsed on"
            f" {finding.data_access_expires_at:%-d %B %Y}: {subject.person} must log in again."
        )
    return finding


def _check_role(
    graph: GraphClient, subject: Subject, user_info: TokenInfo, finding: Finding
) -> None:
    if not user_info.is_valid:
        if user_info.error_subcode == 463:
            # Only the person's 60-day login ended; the page's own key still works,
            # but whether they still fully administer the page can't be seen.
            finding.notes.append(f"({subject.person}'s Facebook login ended: role not checked.)")
            return
        dead = _dead(user_info)
        finding.status, finding.reason = dead.status, dead.reason
        return
    page = next((p for p in graph.pages(subject.user_token or "") if p.id == subject.page_id), None)
    if page is None:
        finding.status = ChannelStatus.ACCESS_LOST
        finding.reason = f"{subject.person} no longer has a role on this page on Facebook."
    elif not page.fully_administered:
        finding.status = ChannelStatus.ACCESS_LOST
        finding.reason = (
            f"{subject.person} no longer has full admin access to this page on Facebook,"
            " which connecting it needs. Reconnect it as a full admin."
        )
    elif not page.is_published:
        finding.status = ChannelStatus.ACCESS_LOST
        finding.reason = (
            "The page is no longer published on Facebook, so customers can't message or"
            " comment on it. Publish it again, then reconnect it."
        )


def _check_subscription(graph: GraphClient, subject: Subject, finding: Finding) -> None:
    fields = graph.subscribed_fields(subject.page_id, subject.page_token)
    missing = [f for f in SUBSCRIBED_FIELDS if f not in fields]
    if not missing:
        return
    try:
        graph.subscribe_app(subject.page_id, subject.page_token)
    except GraphError as error:
        finding.notes.append(
            f"Facebook had stopped sending its webhooks ({', '.join(missing)}) and"
            f" subscribing again failed: {error.explanation}"
        )
    else:
        finding.notes.append(
            "Facebook had stopped sending its webhooks (the app's subscription was dropped);"
            " Pagedesk subscribed again."
        )
