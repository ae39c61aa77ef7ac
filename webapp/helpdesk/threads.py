"""Building blocks of ingestion: contacts, conversations, messages, and comment threads."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.facebook.errors import GraphError
from webapp.helpdesk.kit import FacebookKit
from webapp.helpdesk.vault import VaultError
from webapp.models import (
    Channel,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Mode,
    OutboundStatus,
    Source,
)

OUR_METADATA = "pagedesk:message:"  # put on every send; echoes carry it back
Profile = tuple[str | None, str | None]  # a name and a picture URL, each maybe unknown


class NotYetError(Exception):
    """The event refers to something not received yet: try again later."""


@dataclass(frozen=True)
class Result:
    """What an event became, in words for the Webhook log."""

    outcome: str
    ignored: bool = False


@dataclass(frozen=True)
class Context:
    kit: FacebookKit | None
    now: datetime
    # Profiles fetched before the transaction began (see ingest.prefetch_profiles).
    profiles: Mapping[str, Profile] = field(default_factory=dict)


def find_message(session: Session, channel: Channel, facebook_id: str | None) -> Message | None:
    if not facebook_id:
        return None
    query = select(Message).where(
        Message.channel_id == channel.id, Message.facebook_id == facebook_id
    )
    return session.scalar(query)


def fallback_name(external_id: str) -> str:
    return f"Facebook user …{external_id[-4:]}"


def fetch_profile(channel: Channel, psid: str, kit: FacebookKit | None) -> Profile:
    """Name and picture from the User Profile API; nothing when Facebook refuses."""
    if kit is None or not channel.page_token_sealed:
        return None, None
    try:
        token = kit.vault.open(channel.page_token_sealed)
        profile = kit.graph.user_profile(psid, token)
    except (GraphError, VaultError):
        return None, None
    name = " ".join(filter(None, [profile.get("first_name"), profile.get("last_name")]))
    return name or profile.get("name"), profile.get("profile_pic")


def _profile(channel: Channel, psid: str, ctx: Context) -> Profile:
    if psid in ctx.profiles:
        return ctx.profiles[psid]
    return fetch_profile(channel, psid, ctx.kit)


def contact_for(
    session: Session,
    channel: Channel,
    external_id: str,
    ctx: Context,
    *,
    name: str | None = None,
    fetch_profile: bool = False,
) -> Contact:
    """The page's contact for this id, made (and its profile fetched once) on first sight."""
    query = select(Contact).where(
        Contact.channel_id == channel.id, Contact.external_id == external_id
    )
    contact = session.scalar(query)
    if contact is not None:
        return contact
    picture = None
    if fetch_profile:
        fetched, picture = _profile(channel, external_id, ctx)
        name = fetched or name
    contact = Contact(
        channel_id=channel.id,
        external_id=external_id,
        name=(name or fallback_name(external_id))[:200],
        picture_url=picture,
        profile_fetched_at=ctx.now if fetch_profile else None,
    )
    session.add(contact)
    session.flush()
    return contact


def new_conversation(
    session: Session,
    channel: Channel,
    contact: Contact,
    source: Source,
    ctx: Context,
    **fields: Any,
) -> Conversation:
    """A conversation routed as the channel's settings say: tickets, or a chat channel."""
    chat_id = channel.messenger_chat_id if source is Source.MESSENGER else channel.comments_chat_id
    conversation = Conversation(
        channel_id=channel.id,
        contact_id=contact.id,
        source=source,
        mode=Mode.CHAT if chat_id else Mode.TICKET,
        chat_channel_id=chat_id,
        status=ConversationStatus.OPEN,
        last_activity_at=ctx.now,
        **fields,
    )
    session.add(conversation)
    session.flush()
    return conversation


def reopen(session: Session, conversation: Conversation, at: datetime) -> None:
    if conversation.status is ConversationStatus.CLOSED:
        conversation.status = ConversationStatus.OPEN
        system_line(session, conversation, "Reopened: the customer wrote again.", at)


def latest_messenger_conversation(
    session: Session, channel: Channel, psid: str
) -> Conversation | None:
    # The contact by its unique key, then its conversations by index: a join here let
    # SQLite's planner walk every conversation of the page.
    contact = (
        select(Contact.id)
        .where(Contact.channel_id == channel.id, Contact.external_id == psid)
        .scalar_subquery()
    )
    query = (
        select(Conversation)
        .where(Conversation.contact_id == contact, Conversation.source == Source.MESSENGER)
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def awaiting_receipts(session: Session, conversation: Conversation, *, read: bool) -> list[Message]:
    """Our messages that this receipt can still change: sent ones, and delivered for a read."""
    watermark = conversation.read_watermark if read else conversation.delivered_watermark
    if watermark is None:
        return []
    changeable = {OutboundStatus.SENT, OutboundStatus.DELIVERED} if read else {OutboundStatus.SENT}
    query = select(Message).where(
        Message.conversation_id == conversation.id,
        Message.sent_at <= watermark,
        Message.direction == Direction.OUTBOUND,
        # Said as NOT IN so that the thread's index is used, not the outbox's (whose
        # "sent" and "delivered" rows are every reply ever sent).
        Message.status.not_in([status for status in OutboundStatus if status not in changeable]),
    )
    return list(session.scalars(query))


def messenger_conversation(
    session: Session, channel: Channel, psid: str, ctx: Context, *, reopen_closed: bool = True
) -> Conversation:
    """The conversation with this person on this page; a new one if there is none."""
    conversation = latest_messenger_conversation(session, channel, psid)
    if conversation is None:
        contact = contact_for(session, channel, psid, ctx, fetch_profile=True)
        return new_conversation(session, channel, contact, Source.MESSENGER, ctx)
    if reopen_closed:
        reopen(session, conversation, ctx.now)
    return conversation


def add_message(session: Session, conversation: Conversation, **fields: Any) -> Message:
    message = Message(conversation=conversation, channel_id=conversation.channel_id, **fields)
    session.add(message)
    conversation.last_activity_at = max(conversation.last_activity_at, message.sent_at)
    if message.direction is Direction.INBOUND:
        conversation.unread_count = (conversation.unread_count or 0) + 1
    session.flush()
    return message


def system_line(session: Session, conversation: Conversation, text: str, at: datetime) -> Message:
    return add_message(
        session, conversation, direction=Direction.INTERNAL, system=True, text=text, sent_at=at
    )


def customer_spoke(conversation: Conversation, at: datetime) -> None:
    """The customer's latest action: the 24-hour window counts from it."""
    latest = conversation.last_customer_message_at
    conversation.last_customer_message_at = at if latest is None else max(latest, at)


def apply_watermarks(conversation: Conversation, messages: list[Message]) -> int:
    """Mark our messages sent before the watermarks delivered or read; count the changes."""
    changed = 0
    for message in messages:
        if message.direction is not Direction.OUTBOUND or message.status not in (
            OutboundStatus.SENT,
            OutboundStatus.DELIVERED,
        ):
            continue
        if conversation.read_watermark and message.sent_at <= conversation.read_watermark:
            message.status, changed = OutboundStatus.READ, changed + 1
        elif (
            message.status is OutboundStatus.SENT
            and conversation.delivered_watermark
            and message.sent_at <= conversation.delivered_watermark
        ):
            message.status, changed = OutboundStatus.DELIVERED, changed + 1
    return changed


def settle_ours(message: Message, facebook_id: str, at: datetime) -> None:
    """Facebook confirms one of our replies (its echo): sent, whatever our call heard."""
    message.facebook_id = message.facebook_id or facebook_id
    # Facebook's time, not ours: its delivery and read watermarks are on its clock.
    message.sent_at = at
    if message.status in (
        OutboundStatus.QUEUED,
        OutboundStatus.SENDING,
        OutboundStatus.UNCONFIRMED,
    ):
        message.status, message.failure, message.failure_code = OutboundStatus.SENT, None, None
        message.lease_until = message.next_attempt_at = None


def match_outbound(session: Session, channel: Channel, metadata: str | None) -> Message | None:
    """Our own reply, named in the echo's ``metadata``."""
    if not metadata or not metadata.startswith(OUR_METADATA):
        return None
    try:
        message_id = int(metadata.removeprefix(OUR_METADATA))
    except ValueError:
        return None
    message = session.get(Message, message_id)
    return message if message is not None and message.channel_id == channel.id else None


def edit_text(message: Message, text: str | None) -> None:
    """A new text, the earlier one kept visible (a repeated edit changes nothing)."""
    if text == message.text:
        return
    message.previous_texts = [*(message.previous_texts or []), message.text or ""]
    message.text = text
