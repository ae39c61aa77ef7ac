"""Connecting Facebook pages: login, the page list, eligibility, binding, disconnecting.

The help article's rule: only a public page on which the person has full admin
access can be connected; if that person later loses it, the page must be
connected again.
"""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from webapp.facebook.errors import GraphError, TokenInvalidError
from webapp.facebook.graph import PageAccount, TokenInfo
from webapp.helpdesk.errors import DomainError, NotFoundError
from webapp.helpdesk.kit import FacebookKit
from webapp.helpdesk.vault import Vault
from webapp.models import Channel, ChannelStatus, PendingConnection, utcnow

PENDING_LIFETIME = timedelta(minutes=15)
log = logging.getLogger(__name__)


class FacebookRefusedError(DomainError):
    """Facebook said no during login; the message says why in plain words."""


class PendingExpiredError(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "The list of your pages has expired (it is kept 15 minutes)."
            " Continue with Facebook again to pick pages."
        )


@dataclass(frozen=True)
class PageChoice:
    """A page on the selection screen: can it be connected, and if not, why not."""

    id: str
    name: str
    picture_url: str | None
    category: str | None
    refusal: str | None
    connected: bool

    @property
    def eligible(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True)
class PageOutcome:
    """What happened to one chosen page."""

    page_id: str
    name: str
    error: str | None = None

    @property
    def connected(self) -> bool:
        return self.error is None


def refusal(page: PageAccount) -> str | None:
    """Why a page cannot be connected, or None when it can."""
    if not page.fully_administered:
        role = "You can only moderate this page" if "MODERATE" in page.tasks else "You have a role"
        return f"{role}: connecting it needs full admin access."
    if not page.is_published:
        return "This page isn't published, so customers can't message or comment on it."
    return None


def complete_login(
    session: Session, *, kit: FacebookKit, code: str, admin_id: int, now: datetime | None = None
) -> PendingConnection:
    """Exchange the code, get a 60-day user token, list every page, keep it all sealed."""
    now = now or utcnow()
    try:
        short_lived = kit.login.exchange_code(code)
        user_token = kit.graph.exchange_for_long_lived(short_lived.access_token).access_token
        person = kit.graph.me(user_token)
        pages = kit.graph.pages(user_token)
    except GraphError as error:
        raise FacebookRefusedError(f"Facebook login didn't finish. {error.explanation}") from None
    session.execute(delete(PendingConnection).where(PendingConnection.expires_at < now))
    pending = PendingConnection(
        id=secrets.token_urlsafe(32),
        admin_id=admin_id,
        facebook_user_id=str(person["id"]),
        facebook_user_name=str(person.get("name") or ""),
        user_token_sealed=kit.vault.seal(user_token),
        pages_sealed=kit.vault.seal(json.dumps([asdict(page) for page in pages])),
        expires_at=now + PENDING_LIFETIME,
    )
    session.add(pending)
    session.commit()
    return pending


def get_pending(
    session: Session, *, pending_id: str, admin_id: int, now: datetime | None = None
) -> PendingConnection:
    """This admin's pending connection, while it lasts."""
    pending = session.get(PendingConnection, pending_id)
    if pending is None or pending.admin_id != admin_id or pending.expires_at <= (now or utcnow()):
        raise PendingExpiredError()
    return pending


def _accounts(pending: PendingConnection, vault: Vault) -> list[PageAccount]:
    items = json.loads(vault.open(pending.pages_sealed))
    return [PageAccount(**{**item, "tasks": tuple(item["tasks"])}) for item in items]


def page_choices(session: Session, *, pending: PendingConnection, vault: Vault) -> list[PageChoice]:
    """The person's pages, eligible ones first, each saying whether it is already connected."""
    connected = set(
        session.scalars(select(Channel.page_id).where(Channel.status != ChannelStatus.DISCONNECTED))
    )
    choices = [
        PageChoice(
            id=page.id,
            name=page.name,
            picture_url=page.picture_url,
            category=page.category,
            refusal=refusal(page),
            connected=page.id in connected,
        )
        for page in _accounts(pending, vault)
    ]
    return sorted(choices, key=lambda c: (not c.eligible, c.name.lower()))


def connect_pages(
    session: Session,
    *,
    kit: FacebookKit,
    pending_id: str,
    admin_id: int,
    page_ids: list[str],
    now: datetime | None = None,
) -> list[PageOutcome]:
    """Bind each chosen page; one failing never stops the others."""
    now = now or utcnow()
    pending = get_pending(session, pending_id=pending_id, admin_id=admin_id, now=now)
    accounts = {page.id: page for page in _accounts(pending, kit.vault)}
    user_token = kit.vault.open(pending.user_token_sealed)
    outcomes = []
    for page_id in dict.fromkeys(page_ids):
        page = accounts.get(page_id)
        if page is None:
            outcomes.append(PageOutcome(page_id, page_id, "This page isn't in your Facebook list."))
        elif reason := refusal(page):
            outcomes.append(PageOutcome(page.id, page.name, reason))
        else:
            outcomes.append(_bind(session, kit, page, user_token, pending, admin_id, now))
    return outcomes


def _bind(
    session: Session,
    kit: FacebookKit,
    page: PageAccount,
    user_token: str,
    pending: PendingConnection,
    admin_id: int,
    now: datetime,
) -> PageOutcome:
    try:
        page_info = _valid(kit.graph.debug_token(page.access_token))
        user_info = _valid(kit.graph.debug_token(user_token))
        kit.graph.subscribe_app(page.id, page.access_token)
    except GraphError as error:
        return PageOutcome(page.id, page.name, error.explanation)
    channel = session.scalar(select(Channel).where(Channel.page_id == page.id))
    if channel is None:  # a re-bind keeps the channel, so its history stays with it
        channel = Channel(page_id=page.id)
        session.add(channel)
    data_access = [
        d for d in (page_info.data_access_expires_at, user_info.data_access_expires_at) if d
    ]
    channel.name = page.name
    channel.picture_url = page.picture_url
    channel.page_token_sealed = kit.vault.seal(page.access_token)
    channel.user_token_sealed = kit.vault.seal(user_token)
    channel.facebook_user_id = pending.facebook_user_id
    channel.facebook_user_name = pending.facebook_user_name
    channel.expires_at = page_info.expires_at
    channel.data_access_expires_at = min(data_access, default=None)
    channel.status, channel.status_reason = ChannelStatus.ACTIVE, None
    channel.connected_by_id, channel.connected_at = admin_id, now
    channel.last_checked_at = now
    released = _release_held(session, channel, now)
    session.commit()
    if released:
        _send_released(session, kit, now)
    return PageOutcome(page.id, page.name)


def _release_held(session: Session, channel: Channel, now: datetime) -> int:
    # A reconnect ends a lost key: the replies held meanwhile are checked against
    # the policy again (a window may have closed) and queued, in this transaction.
    from webapp.helpdesk import outbox  # the outbox calls back into the key checks

    return outbox.release_held(session, channel_id=channel.id, now=now) if channel.id else 0


def _send_released(session: Session, kit: FacebookKit, now: datetime) -> None:
    from webapp.helpdesk import outbox

    try:
        outbox.deliver_due(session, kit=kit, now=now)
    except Exception:  # they stay queued: the retry-outbox job sends them
        session.rollback()
        log.exception("Sending the replies released by a reconnect stopped early")


def _valid(info: TokenInfo) -> TokenInfo:
    if not info.is_valid:
        raise TokenInvalidError(
            info.error_message or "Invalid token", code=info.error_code, subcode=info.error_subcode
        )
    return info


def get_channel(session: Session, channel_id: int) -> Channel:
    """The connected page with this id, or :class:`NotFoundError`."""
    channel = session.get(Channel, channel_id)
    if channel is None:
        raise NotFoundError("That page is not connected.")
    return channel


def disconnect_channel(session: Session, *, kit: FacebookKit, channel_id: int) -> str | None:
    """Stop webhooks and forget the keys; the channel and its history stay.

    Returns a note when Facebook could not be told (the key was already dead).
    """
    channel = get_channel(session, channel_id)
    note = None
    if channel.page_token_sealed:
        try:
            kit.graph.unsubscribe_app(channel.page_id, kit.vault.open(channel.page_token_sealed))
        except GraphError as error:
            note = f"Facebook could not be told ({error.explanation}); nothing more will be sent."
    channel.page_token_sealed = channel.user_token_sealed = None
    channel.status = ChannelStatus.DISCONNECTED
    channel.status_reason = "Disconnected. Connect it again to receive and answer its messages."
    session.commit()
    return note
