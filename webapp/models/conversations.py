"""Customers, their conversations and the messages in them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from webapp.extensions import db
from webapp.models.base import enum_type, utcnow
from webapp.models.outbox import OutboundStatus

if TYPE_CHECKING:
    from webapp.models.accounts import User
    from webapp.models.channels import Channel, ChatChannel


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
    source: Mapped[Source] = mapped_column(enum_type(Source))
    # Comments: the thread's first comment and its post.
    thread_id: Mapped[str | None] = mapped_column(String(80), index=True)
    post_id: Mapped[str | None] = mapped_column(String(80))
    post_url: Mapped[str | None] = mapped_column(String(1000))
    mode: Mapped[Mode] = mapped_column(enum_type(Mode), default=Mode.TICKET)
    chat_channel_id: Mapped[int | None] = mapped_column(ForeignKey("chat_channels.id"))
    status: Mapped[ConversationStatus] = mapped_column(
        enum_type(ConversationStatus), default=ConversationStatus.OPEN
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
    direction: Mapped[Direction] = mapped_column(enum_type(Direction))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_from_facebook: Mapped[bool] = mapped_column(default=False)
    system: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str | None] = mapped_column(Text)
    previous_texts: Mapped[list] = mapped_column(JSON, default=list)
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    reactions: Mapped[dict] = mapped_column(JSON, default=dict)
    quick_reply: Mapped[str | None] = mapped_column(String(1000))
    reply_to: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[OutboundStatus | None] = mapped_column(enum_type(OutboundStatus))
    kind: Mapped[MessageKind] = mapped_column(enum_type(MessageKind), default=MessageKind.STANDARD)
    route: Mapped[Route | None] = mapped_column(enum_type(Route))
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
