"""Reading conversations for the inbox."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from webapp.models import Conversation, Direction, Message

PAGE_SIZE = 50


@dataclass(frozen=True)
class ConversationRow:
    conversation: Conversation
    last_text: str | None


def recent(session: Session, *, limit: int = PAGE_SIZE) -> list[ConversationRow]:
    """Conversations with the newest activity first, each with its last message's text."""
    last_text = (
        select(Message.text)
        .where(Message.conversation_id == Conversation.id, Message.direction != Direction.INTERNAL)
        .order_by(Message.sent_at.desc(), Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    query = (
        select(Conversation, last_text)
        .options(
            joinedload(Conversation.channel),
            joinedload(Conversation.contact),
            joinedload(Conversation.chat_channel),
        )
        .order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        .limit(limit)
    )
    return [ConversationRow(conversation, text) for conversation, text in session.execute(query)]
