"""Comment threads: a customer's comment and its replies are one conversation.

Like every ingestion handler, idempotent (a comment is found by its id first)
and order-proof (a reply or an edit before its comment waits and is retried).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.facebook.webhooks import Comment
from webapp.helpdesk.threads import (
    Context,
    NotYetError,
    Result,
    add_message,
    contact_for,
    customer_spoke,
    edit_text,
    find_message,
    new_conversation,
    reopen,
    settle_ours,
    system_line,
)
from webapp.models import Channel, Conversation, Direction, Message, OutboundStatus, Route, Source


def apply_comment(session: Session, channel: Channel, comment: Comment, ctx: Context) -> Result:
    """A comment added, edited, removed, hidden or unhidden."""
    if comment.verb == "add":
        return _comment_added(session, channel, comment, ctx)
    target = find_message(session, channel, comment.comment_id)
    if target is None:
        raise NotYetError(f"the comment ({comment.verb}) has not arrived yet")
    conversation = target.conversation
    if comment.verb in (target.awaiting_webhooks or []):
        awaiting = list(target.awaiting_webhooks)
        awaiting.remove(comment.verb)
        target.awaiting_webhooks = awaiting
        return Result(f"Facebook confirmed our {comment.verb} of comment {target.id}")
    if comment.verb in ("edited", "edit"):
        edit_text(target, comment.text)
        return Result(f"Comment {target.id} edited")
    if comment.verb == "remove":
        if target.deleted_at is None:
            target.deleted_at = ctx.now
            system_line(session, conversation, "A comment was deleted on Facebook.", ctx.now)
        return Result(f"Comment {target.id} deleted on Facebook (its text is kept)")
    if comment.verb in ("hide", "unhide"):
        hidden = comment.verb == "hide"
        if target.hidden != hidden:
            target.hidden = hidden
            text = "A comment was hidden on Facebook." if hidden else "A comment was unhidden."
            system_line(session, conversation, text, ctx.now)
        return Result(f"Comment {target.id} {comment.verb}")
    return Result(f"Ignored: comment {comment.verb}", ignored=True)


def _thread_of(session: Session, channel: Channel, comment: Comment) -> Conversation | None:
    key = comment.parent_id if comment.is_reply else comment.comment_id
    query = select(Conversation).where(
        Conversation.channel_id == channel.id,
        Conversation.source == Source.COMMENT,
        Conversation.thread_id == key,
    )
    conversation = session.scalar(query)
    if conversation is None and comment.is_reply:  # a reply to a reply
        parent = find_message(session, channel, comment.parent_id)
        conversation = parent.conversation if parent is not None else None
    return conversation


def _our_comment_reply(
    session: Session, conversation: Conversation, comment: Comment
) -> Message | None:
    """Our public reply whose answer from Facebook we are still waiting for."""
    query = select(Message).where(
        Message.conversation_id == conversation.id,
        Message.route == Route.COMMENT_REPLY,
        Message.facebook_id.is_(None),
        Message.text == comment.text,
        Message.status.in_([OutboundStatus.SENDING, OutboundStatus.UNCONFIRMED]),
    )
    return session.scalars(query.order_by(Message.id)).first()


def _comment_added(session: Session, channel: Channel, comment: Comment, ctx: Context) -> Result:
    if find_message(session, channel, comment.comment_id):
        return Result("Already recorded (a repeated delivery)")
    by_page = comment.from_id == channel.page_id
    conversation = _thread_of(session, channel, comment)
    ours = _our_comment_reply(session, conversation, comment) if by_page and conversation else None
    if ours is not None:
        settle_ours(ours, comment.comment_id, comment.created_at)
        return Result(f"Facebook confirmed our public reply {ours.id}")
    if conversation is None:
        if by_page and not comment.is_reply:
            return Result("Ignored: the page commented on its own post", ignored=True)
        if by_page:
            raise NotYetError("the customer's comment this reply belongs to has not arrived yet")
        contact = contact_for(
            session, channel, comment.from_id or "unknown", ctx, name=comment.from_name
        )
        conversation = new_conversation(
            session, channel, contact, Source.COMMENT, ctx,
            thread_id=comment.parent_id if comment.is_reply else comment.comment_id,
            post_id=comment.post_id,
            post_url=comment.post_url or f"https://www.facebook.com/{comment.post_id}",
        )  # fmt: skip
    elif not by_page:
        reopen(session, conversation, ctx.now)
    add_message(
        session, conversation, facebook_id=comment.comment_id,
        direction=Direction.OUTBOUND if by_page else Direction.INBOUND,
        sent_from_facebook=by_page, status=OutboundStatus.SENT if by_page else None,
        text=comment.text, sent_at=comment.created_at, reply_to=comment.parent_id,
    )  # fmt: skip
    if not by_page:
        customer_spoke(conversation, comment.created_at)
    who = "The page's reply" if by_page else "Customer comment"
    return Result(f"{who} in conversation {conversation.id}")
