"""The database tables: columns, relationships and small derived properties."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from webapp.extensions import db


def utcnow() -> datetime:
    """Now, timezone-aware, in UTC."""
    return datetime.now(UTC)


def new_session_token() -> str:
    """A random token naming one generation of a user's sign-ins."""
    return secrets.token_urlsafe(32)


def _enum(cls: type[StrEnum]) -> Enum:
    # Stored as plain strings: readable in SQL, and a new value needs no type migration.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class User(UserMixin, db.Model):
    """A person on the support team."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role), default=Role.AGENT)
    active: Mapped[bool] = mapped_column(default=True)
    # Flask-Login keeps this token in the session instead of the id: rotating it
    # (deactivation, password reset) signs the person out everywhere at once.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return self.session_token


class LoginAttempt(db.Model):
    """One sign-in try, kept for a day to throttle guessing across all app processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ChatChannel(db.Model):
    """A named live chat queue, such as "Support chat" or "Sales chat"."""

    __tablename__ = "chat_channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelStatus(StrEnum):
    ACTIVE = "active"
    EXPIRING = "expiring"
    EXPIRED = "expired"
    ACCESS_LOST = "access_lost"
    DISCONNECTED = "disconnected"


class Channel(db.Model):
    """A connected Facebook Page and where its conversations go."""

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    picture_url: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[ChannelStatus] = mapped_column(
        _enum(ChannelStatus), default=ChannelStatus.ACTIVE
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    # Both tokens are Fernet ciphertext (see helpdesk/vault.py), never plain.
    page_token_sealed: Mapped[str | None] = mapped_column(Text)
    user_token_sealed: Mapped[str | None] = mapped_column(Text)
    facebook_user_id: Mapped[str | None] = mapped_column(String(32))
    facebook_user_name: Mapped[str | None] = mapped_column(String(200))
    # None: never. The key lapses at the earlier of the two (see key_expires_at).
    expires_at: Mapped[datetime | None]
    data_access_expires_at: Mapped[datetime | None]
    connected_at: Mapped[datetime | None]
    last_event_at: Mapped[datetime | None]
    # Facebook's messaging_policy_enforcement: "block" stops sends; admins see the reason.
    policy_block: Mapped[str | None] = mapped_column(String(1000))
    # Out-of-window messaging (reference §7): each needs Facebook's approval first.
    human_agent_enabled: Mapped[bool] = mapped_column(default=False)
    subscription_enabled: Mapped[bool] = mapped_column(default=False)
    subscription_use: Mapped[str | None] = mapped_column(String(500))
    # One term per line; None means Pagedesk's default list (webapp/facebook/policy.py).
    promotional_terms: Mapped[str | None] = mapped_column(Text)
    last_checked_at: Mapped[datetime | None]
    connected_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # None routes to tickets, the default the help article promises.
    messenger_chat_id: Mapped[int | None] = mapped_column(ForeignKey("chat_channels.id"))
    comments_chat_id: Mapped[int | None] = mapped_column(ForeignKey("chat_channels.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    connected_by: Mapped[User | None] = relationship()
    messenger_chat: Mapped[ChatChannel | None] = relationship(foreign_keys=[messenger_chat_id])
    comments_chat: Mapped[ChatChannel | None] = relationship(foreign_keys=[comments_chat_id])

    @property
    def key_expires_at(self) -> datetime | None:
        """When the access key lapses: the earlier of a set ``expires_at`` and data access."""
        dates = [d for d in (self.expires_at, self.data_access_expires_at) if d is not None]
        return min(dates, default=None)


class PendingConnection(db.Model):
    """Between Facebook Login and the admin's choice of pages: kept 15 minutes, sealed."""

    __tablename__ = "pending_connections"

    id: Mapped[str] = mapped_column(String(43), primary_key=True)
    admin_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    facebook_user_id: Mapped[str] = mapped_column(String(32))
    facebook_user_name: Mapped[str] = mapped_column(String(200))
    user_token_sealed: Mapped[str] = mapped_column(Text)
    pages_sealed: Mapped[str] = mapped_column(Text)  # the /me/accounts list, page tokens included
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


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
    status: Mapped[EventStatus] = mapped_column(_enum(EventStatus), default=EventStatus.PENDING)
    outcome: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    tries: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]

    delivery: Mapped[WebhookDelivery] = relationship(back_populates="events")


class Contact(db.Model):
    """A person as one page sees them: a PSID for Messenger, a user id for comments."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("channel_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    picture_url: Mapped[str | None] = mapped_column(String(1000))
    profile_fetched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Source(StrEnum):
    MESSENGER = "messenger"
    COMMENT = "comment"


class Mode(StrEnum):
    TICKET = "ticket"
    CHAT = "chat"


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    CLOSED = "closed"


# What the ticket list filters on besides mode and status (see the indexes below).
FILTERED = ("channel_id", "source", "assignee_id", "chat_channel_id")


class Conversation(db.Model):
    """A Messenger thread with one contact, or one comment thread under a post."""

    __tablename__ = "conversations"
    __table_args__ = (
        # The ticket list reads these, never the table: one status in activity order (and
        # its capped count), every status in activity order, the reply-window sort. Each
        # carries the filter columns, so a filtered list is still read from the index.
        # SQLite's planner, with no statistics, picks among them by the columns a query
        # names: bench_inbox.py prints the plans of anything slow.
        Index("ix_conversations_queue", "mode", "status", "last_activity_at", *FILTERED),
        Index("ix_conversations_activity", "mode", "last_activity_at", "status", *FILTERED),
        Index("ix_conversations_window", "mode", "status", "last_customer_message_at"),
        # "Mine" and "Unassigned", every agent's first view.
        Index("ix_conversations_assignee", "mode", "assignee_id", "status", "last_activity_at"),
        Index("ix_conversations_updated", "updated_at"),
        # The chat badges' sums, and a chat queue's counts.
        Index("ix_conversations_chats", "mode", "chat_channel_id", "status", "unread_count"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    source: Mapped[Source] = mapped_column(_enum(Source))
    # Comments: the thread's first comment and its post.
    thread_id: Mapped[str | None] = mapped_column(String(80), index=True)
    post_id: Mapped[str | None] = mapped_column(String(80))
    post_url: Mapped[str | None] = mapped_column(String(1000))
    mode: Mapped[Mode] = mapped_column(_enum(Mode), default=Mode.TICKET)
    chat_channel_id: Mapped[int | None] = mapped_column(ForeignKey("chat_channels.id"))
    status: Mapped[ConversationStatus] = mapped_column(
        _enum(ConversationStatus), default=ConversationStatus.OPEN
    )
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The 24-hour window is derived from this (reference §7.1).
    last_customer_message_at: Mapped[datetime | None]
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Highest delivery and read watermarks seen, applied to outbound messages sent later too.
    delivered_watermark: Mapped[datetime | None]
    read_watermark: Mapped[datetime | None]
    # Customer messages no agent has looked at yet (the chat queue's badge).
    unread_count: Mapped[int] = mapped_column(default=0)
    # Bumped by every change anyone could see: the inbox's cheap "anything new?" marker.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    channel: Mapped[Channel] = relationship()
    contact: Mapped[Contact] = relationship()
    assignee: Mapped[User | None] = relationship()
    chat_channel: Mapped[ChatChannel | None] = relationship()
    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="(Message.sent_at, Message.id)"
    )


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"
    INTERNAL = "internal"  # notes and system lines: never sent to Facebook


class MessageKind(StrEnum):
    """Under which of Facebook's rules an outbound message goes (reference §7)."""

    STANDARD = "standard"
    HUMAN_AGENT = "human_agent"
    SUBSCRIPTION = "subscription"
    NOTE = "note"


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


class Route(StrEnum):
    """How an outbound message reaches the customer."""

    MESSENGER = "messenger"  # Send API to the PSID
    COMMENT_REPLY = "comment_reply"  # POST /{comment-id}/comments, public
    PRIVATE_REPLY = "private_reply"  # Send API with recipient.comment_id


class Message(db.Model):
    """A message, comment, note or system line in a conversation."""

    __tablename__ = "messages"
    # A replayed webhook finds the message it already made: never a duplicate.
    __table_args__ = (
        UniqueConstraint("channel_id", "facebook_id"),
        Index("ix_messages_outbox", "status", "next_attempt_at"),
        Index("ix_messages_thread", "conversation_id", "sent_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    facebook_id: Mapped[str | None] = mapped_column(String(200))
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_from_facebook: Mapped[bool] = mapped_column(default=False)
    system: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str | None] = mapped_column(Text)
    previous_texts: Mapped[list] = mapped_column(JSON, default=list)
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    reactions: Mapped[dict] = mapped_column(JSON, default=dict)
    quick_reply: Mapped[str | None] = mapped_column(String(1000))
    reply_to: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[OutboundStatus | None] = mapped_column(_enum(OutboundStatus))
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind), default=MessageKind.STANDARD)
    route: Mapped[Route | None] = mapped_column(_enum(Route))
    # The comment an outbound comment reply or private reply answers.
    target_comment_id: Mapped[str | None] = mapped_column(String(200))
    # The outbox: tries so far, when to try again, and who holds it until when.
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    failure: Mapped[str | None] = mapped_column(String(500))  # in words a person understands
    failure_code: Mapped[str | None] = mapped_column(String(40))  # Facebook's code/subcode
    # The composer's one-time key: a double-clicked Send makes one message, not two.
    client_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Comments we hid, unhid or deleted ourselves: Facebook's feed webhooks for them
    # confirm what is already recorded (like an echo), in whatever order they come.
    awaiting_webhooks: Mapped[list] = mapped_column(JSON, default=list)
    # Inbound comments: Facebook allows one private reply per comment.
    privately_replied_at: Mapped[datetime | None]
    hidden: Mapped[bool] = mapped_column(default=False)
    deleted_at: Mapped[datetime | None]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")
    author: Mapped[User | None] = relationship()


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


@event.listens_for(Session, "before_flush")
def _mark_conversations_changed(session: Session, _context: object, _instances: object) -> None:
    # Any new or changed message changes what its conversation shows: bump the
    # conversation's marker, so the inbox's polling sees it with one cheap query.
    now = utcnow()
    for obj in (*session.new, *session.dirty):
        if not isinstance(obj, Message):
            continue
        # A new message may know its conversation only through the relationship yet.
        conversation = obj.__dict__.get("conversation") or (
            session.get(Conversation, obj.conversation_id) if obj.conversation_id else None
        )
        if conversation is not None:
            conversation.updated_at = now
