"""Handling a conversation: status, assignment, ticket or chat, seen; comment moderation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from webapp.facebook.errors import GraphError, TokenInvalidError
from webapp.helpdesk import chats, lost_access
from webapp.helpdesk.errors import DomainError, NotFoundError
from webapp.helpdesk.kit import FacebookKit
from webapp.helpdesk.replies import get_conversation
from webapp.helpdesk.threads import system_line
from webapp.models import (
    ChannelStatus,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Mode,
    Source,
    User,
    utcnow,
)

STATUS_WORDS = {
    ConversationStatus.OPEN: "open",
    ConversationStatus.PENDING: "pending",
    ConversationStatus.CLOSED: "closed",
}


def set_status(
    session: Session, *, conversation_id: int, status: ConversationStatus, actor: User
) -> Conversation:
    """Open, pending or closed, with a line in the conversation saying who did it."""
    conversation = get_conversation(session, conversation_id)
    if conversation.status is not status:
        conversation.status = status
        system_line(
            session, conversation, f"{actor.name} marked it {STATUS_WORDS[status]}.", utcnow()
        )
    session.commit()
    return conversation


def assign(
    session: Session, *, conversation_id: int, assignee_id: int | None, actor: User
) -> Conversation:
    """Give the conversation to a teammate (or to nobody)."""
    conversation = get_conversation(session, conversation_id)
    assignee = session.get(User, assignee_id) if assignee_id else None
    if assignee_id and (assignee is None or not assignee.active):
        raise DomainError("That person can't be assigned: they are not on the team any more.")
    if conversation.assignee_id != assignee_id:
        conversation.assignee_id = assignee_id
        text = (
            f"{actor.name} assigned it to {assignee.name}."
            if assignee
            else (f"{actor.name} unassigned it.")
        )
        system_line(session, conversation, text, utcnow())
    session.commit()
    return conversation


def move(
    session: Session, *, conversation_id: int, chat_id: int | None, actor: User
) -> Conversation:
    """Move a conversation to a chat channel, or back to tickets (``chat_id`` None)."""
    conversation = get_conversation(session, conversation_id)
    if chat_id is not None:
        chat = chats.get_chat_channel(session, chat_id)
        conversation.mode, conversation.chat_channel_id = Mode.CHAT, chat.id
        text = f"{actor.name} moved it to the chat “{chat.name}”."
    else:
        conversation.mode, conversation.chat_channel_id = Mode.TICKET, None
        text = f"{actor.name} made it a ticket."
    system_line(session, conversation, text, utcnow())
    session.commit()
    return conversation


def mark_seen(session: Session, *, conversation_id: int) -> None:
    """An agent looked at it: no unread messages left."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is not None and conversation.unread_count:
        conversation.unread_count = 0
        session.commit()


MODERATION = {
    "hide": "hid the comment on Facebook",
    "unhide": "unhid the comment on Facebook",
    "delete": "deleted the comment on Facebook",
}


FEED_VERBS = {"hide": "hide", "unhide": "unhide", "delete": "remove"}  # Facebook's verbs


def moderate(
    session: Session,
    *,
    kit: FacebookKit,
    message_id: int,
    action: str,
    actor: User,
    now: datetime | None = None,
) -> Message:
    """Hide, unhide or delete a comment on Facebook, and record it in the conversation."""
    now = now or utcnow()
    comment = session.get(Message, message_id)
    if (
        comment is None
        or comment.conversation.source is not Source.COMMENT
        or not comment.facebook_id
    ):
        raise NotFoundError("That comment no longer exists.")
    if comment.direction is Direction.INTERNAL or action not in MODERATION:
        raise DomainError("Only comments can be hidden or deleted.")
    if comment.deleted_at is not None:
        raise DomainError("This comment was already deleted on Facebook.")
    channel = comment.conversation.channel
    if channel.status not in (ChannelStatus.ACTIVE, ChannelStatus.EXPIRING):
        raise DomainError(f"“{channel.name}” must be reconnected first.")
    token = kit.vault.open(channel.page_token_sealed or "")
    try:
        if action == "delete":
            kit.graph.delete_comment(comment.facebook_id, token)
        else:
            kit.graph.set_comment_hidden(comment.facebook_id, token, hidden=action == "hide")
    except TokenInvalidError as error:
        lost_access.mark_lost(
            session, channel=channel, status=ChannelStatus.ACCESS_LOST,
            reason=error.explanation, now=now,
        )  # fmt: skip
        session.commit()
        raise DomainError(error.explanation) from None
    except GraphError as error:
        raise DomainError(error.explanation) from None
    if action == "delete":
        comment.deleted_at = now
    else:
        comment.hidden = action == "hide"
    comment.awaiting_webhooks = [*(comment.awaiting_webhooks or []), FEED_VERBS[action]]
    system_line(session, comment.conversation, f"{actor.name} {MODERATION[action]}.", now)
    session.commit()
    return comment
