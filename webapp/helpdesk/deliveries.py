"""How one outbound message reaches Facebook, by its route; and the small shared pieces."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from webapp.facebook import policy
from webapp.facebook.graph import GraphClient
from webapp.helpdesk.errors import NotFoundError
from webapp.helpdesk.threads import OUR_METADATA
from webapp.models import (
    Channel,
    Conversation,
    Direction,
    Message,
    Route,
    Upload,
    utcnow,
)


@dataclass(frozen=True)
class Delivered:
    facebook_id: str | None


def plan(message: Message, now: datetime, rules: policy.Rules) -> policy.SendPlan | None:
    """Facebook's ``messaging_type`` and tag for a Messenger reply; None for other routes.

    Raises :class:`policy.PolicyError` when the rules forbid sending now.
    """
    if message.route is not Route.MESSENGER:
        return None
    return policy.plan_send(
        policy.Kind(message.kind.value),
        message.conversation.last_customer_message_at,
        now,
        rules,
        by_person=message.author_user_id is not None,
    )


def send(
    graph: GraphClient,
    session: Session,
    message: Message,
    channel: Channel,
    token: str,
    send_plan: policy.SendPlan | None,
) -> Delivered:
    """One Graph call for this message; raises the Graph client's typed errors."""
    if message.route is Route.COMMENT_REPLY:
        new_id = graph.reply_to_comment(message.target_comment_id or "", token, text=message.text)
        return Delivered(new_id)
    if message.route is Route.PRIVATE_REPLY:
        recipient = {"comment_id": message.target_comment_id or ""}
    else:
        recipient = {"id": message.conversation.contact.external_id}
    result = graph.send_message(
        channel.page_id,
        token,
        recipient=recipient,
        messaging_type=send_plan.messaging_type if send_plan else None,
        tag=send_plan.tag if send_plan else None,
        text=message.text or None,
        attachment=_attachment(graph, session, channel, token, message),
        metadata=f"{OUR_METADATA}{message.id}",
    )
    return Delivered(result.message_id)


def _attachment(
    graph: GraphClient, session: Session, channel: Channel, token: str, message: Message
) -> dict | None:
    if not message.attachments:
        return None
    item = message.attachments[0]  # one attachment per message (Facebook's rule)
    if upload_id := item.get("upload_id"):
        upload = session.get(Upload, upload_id)
        if upload is None:
            raise NotFoundError("The attached file is no longer kept. Attach it again.")
        attachment_id = graph.upload_attachment(
            channel.page_id, token, kind=item["type"], filename=upload.name,
            content=upload.data, mimetype=upload.mimetype,
        )  # fmt: skip
        return {"type": item["type"], "payload": {"attachment_id": attachment_id}}
    return {"type": item["type"], "payload": {"url": item["url"], "is_reusable": True}}


def touch(session: Session, conversation_id: int, now: datetime | None = None) -> None:
    """Tell pollers the conversation changed (its ``updated_at`` is the change marker)."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id)
        .values(updated_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )


def comment_replied_to(session: Session, message: Message) -> Message | None:
    """The customer's comment a private reply answers."""
    query = select(Message).where(
        Message.channel_id == message.channel_id,
        Message.facebook_id == message.target_comment_id,
        Message.direction == Direction.INBOUND,
    )
    return session.scalar(query)


def mark_privately_replied(session: Session, message: Message, now: datetime) -> None:
    """Facebook allows one private reply per comment: remember this one was used."""
    comment = comment_replied_to(session, message)
    if comment is not None and comment.privately_replied_at is None:
        comment.privately_replied_at = now


def get_outbound(session: Session, message_id: int) -> Message:
    """An outbound message by id, or :class:`NotFoundError`."""
    message = session.get(Message, message_id)
    if message is None or message.direction is not Direction.OUTBOUND:
        raise NotFoundError("That reply no longer exists.")
    return message
