"""Chat channels: named live queues that pages can route conversations to."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from webapp.helpdesk.errors import DomainError, NotFoundError
from webapp.models import Channel, ChatChannel


class DuplicateChatNameError(DomainError):
    def __init__(self, name: str) -> None:
        super().__init__(f"There is already a chat channel called “{name}”.")


class ChatChannelInUseError(DomainError):
    def __init__(self, chat: ChatChannel, users: list[str]) -> None:
        self.users = users
        super().__init__(
            f"“{chat.name}” receives conversations from {', '.join(users)}."
            " Route them to tickets or another chat channel first, then delete it."
        )


def list_chat_channels(session: Session) -> list[ChatChannel]:
    """All chat channels, by name."""
    return list(session.scalars(select(ChatChannel).order_by(func.lower(ChatChannel.name))))


def get_chat_channel(session: Session, chat_id: int) -> ChatChannel:
    """The chat channel with this id, or :class:`NotFoundError`."""
    chat = session.get(ChatChannel, chat_id)
    if chat is None:
        raise NotFoundError("That chat channel no longer exists.")
    return chat


def _check_name_free(session: Session, name: str, *, except_id: int | None = None) -> None:
    query = select(ChatChannel.id).where(func.lower(ChatChannel.name) == name.lower())
    if except_id is not None:
        query = query.where(ChatChannel.id != except_id)
    if session.scalar(query) is not None:
        raise DuplicateChatNameError(name)


def create_chat_channel(session: Session, *, name: str) -> ChatChannel:
    """Add a chat channel."""
    name = name.strip()
    _check_name_free(session, name)
    chat = ChatChannel(name=name)
    session.add(chat)
    session.commit()
    return chat


def rename_chat_channel(session: Session, *, chat_id: int, name: str) -> ChatChannel:
    """Give a chat channel a new name."""
    chat = get_chat_channel(session, chat_id)
    name = name.strip()
    _check_name_free(session, name, except_id=chat.id)
    chat.name = name
    session.commit()
    return chat


def routes_to(session: Session, chat: ChatChannel) -> list[str]:
    """What sends conversations to this chat, in words: "Acme (Messenger)"."""
    pages = session.scalars(
        select(Channel).where(
            or_(Channel.messenger_chat_id == chat.id, Channel.comments_chat_id == chat.id)
        )
    )
    users = []
    for page in pages:
        kinds = [
            label
            for label, chat_id in (
                ("Messenger", page.messenger_chat_id),
                ("comments", page.comments_chat_id),
            )
            if chat_id == chat.id
        ]
        users.append(f"{page.name} ({' and '.join(kinds)})")
    return users


def delete_chat_channel(session: Session, *, chat_id: int) -> ChatChannel:
    """Delete a chat channel nothing routes to; otherwise say what does."""
    chat = get_chat_channel(session, chat_id)
    users = routes_to(session, chat)
    if users:
        raise ChatChannelInUseError(chat, users)
    session.delete(chat)
    session.commit()
    return chat
