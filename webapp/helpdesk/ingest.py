"""What each webhook event becomes: contacts, conversations, messages.

Every handler is idempotent (a message is found by its Facebook id before it is
made) and order-proof: an event about a message that has not arrived yet raises
:class:`NotYetError`, so it waits and is retried instead of being lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.facebook import webhooks
from webapp.facebook.errors import GraphError
from webapp.helpdesk import comment_threads, threads
from webapp.helpdesk.kit import FacebookKit
from webapp.helpdesk.threads import NotYetError, Result
from webapp.models import Channel, ChannelStatus, Contact, Direction, OutboundStatus, WebhookEvent

# "Last event received" moves on at most once a minute, as the channel list shows it:
# otherwise every event would write the channel's row, and events processed at the same
# time, in two processes, would queue on its lock.
EVENT_CLOCK_STEP = timedelta(minutes=1)

IGNORED_KINDS = {
    "optin": "a marketing-message opt-in",
    "referral": "a referral (m.me link, ad or plugin)",
    "standby": "an event for a thread another app owns (standby)",
    "post_reaction": "a reaction to a post",
    "page_post": "a new post by the page",
    "account_linking": "account linking",
    "handover": "a handover between apps",
}


def describe(error: Exception) -> str:
    """An error as the Webhook log shows it."""
    if isinstance(error, NotYetError):
        return f"Waiting: {error}"
    if isinstance(error, GraphError):
        return f"Facebook: {error.explanation}"
    return f"{type(error).__name__}: {error}"


def prefetch_profiles(
    session: Session, event: WebhookEvent, *, kit: FacebookKit | None
) -> dict[str, threads.Profile]:
    """A first-time customer's profile, fetched before any write (no lock held meanwhile)."""
    if kit is None or event.kind not in ("message", "postback", "echo"):
        return {}
    side = "recipient" if event.kind == "echo" else "sender"
    psid = str((event.payload.get(side) or {}).get("id") or "")
    channel = session.scalar(select(Channel).where(Channel.page_id == event.page_id))
    if not psid or channel is None or not channel.page_token_sealed:
        return {}
    known = select(Contact.id).where(Contact.channel_id == channel.id, Contact.external_id == psid)
    if session.scalar(known) is not None:
        return {}
    return {psid: threads.fetch_profile(channel, psid, kit)}


def apply(
    session: Session,
    event: WebhookEvent,
    *,
    kit: FacebookKit | None,
    now: datetime,
    profiles: dict[str, threads.Profile] | None = None,
) -> Result:
    """Turn one event into what it means for the helpdesk."""
    channel = session.scalar(select(Channel).where(Channel.page_id == event.page_id))
    if channel is None or channel.status is ChannelStatus.DISCONNECTED:
        return Result("Ignored: this page is not connected", ignored=True)
    if channel.last_event_at is None or now - channel.last_event_at >= EVENT_CLOCK_STEP:
        channel.last_event_at = now
    handler = HANDLERS.get(event.kind)
    if handler is None:
        what = IGNORED_KINDS.get(event.kind, f"an event Pagedesk does not act on ({event.kind})")
        return Result(f"Ignored: {what}", ignored=True)
    context = threads.Context(kit=kit, now=now, profiles=profiles or {})
    return handler(session, channel, event.payload, context)


def on_message(session: Session, channel: Channel, payload: dict, ctx: threads.Context) -> Result:
    """A customer's message: contact, conversation (reopened if closed), message."""
    message = webhooks.messenger_message(payload)
    if threads.find_message(session, channel, message.mid):
        return Result("Already recorded (a repeated delivery)")
    conversation = threads.messenger_conversation(session, channel, message.psid, ctx)
    threads.add_message(
        session, conversation, facebook_id=message.mid, direction=Direction.INBOUND,
        text=message.text, sent_at=message.sent_at,
        attachments=[asdict(a) for a in message.attachments],
        quick_reply=message.quick_reply, reply_to=message.reply_to,
    )  # fmt: skip
    threads.customer_spoke(conversation, message.sent_at)
    return Result(f"Customer message in conversation {conversation.id}")


def on_postback(session: Session, channel: Channel, payload: dict, ctx: threads.Context) -> Result:
    """A button tap: a customer message showing the button's title."""
    postback, psid = payload["postback"], str(payload["sender"]["id"])
    sent_at = webhooks.from_ms(payload.get("timestamp") or 0)
    # Postbacks may lack a mid: deduplicate by (sender, time, type), as Facebook advises.
    facebook_id = str(postback.get("mid") or f"postback:{psid}:{payload.get('timestamp')}")
    if threads.find_message(session, channel, facebook_id):
        return Result("Already recorded (a repeated delivery)")
    conversation = threads.messenger_conversation(session, channel, psid, ctx)
    threads.add_message(
        session, conversation, facebook_id=facebook_id, direction=Direction.INBOUND,
        text=postback.get("title"), sent_at=sent_at, quick_reply=postback.get("payload"),
    )  # fmt: skip
    threads.customer_spoke(conversation, sent_at)
    return Result(f"Button tap in conversation {conversation.id}")


def on_echo(session: Session, channel: Channel, payload: dict, ctx: threads.Context) -> Result:
    """A message the page sent: ours is matched; one from Facebook's inbox is recorded."""
    message = webhooks.messenger_message(payload)
    if threads.find_message(session, channel, message.mid):
        return Result("Already recorded (a repeated delivery)")
    ours = threads.match_outbound(session, channel, message.metadata)
    if ours is not None:
        threads.settle_ours(ours, message.mid, message.sent_at)
        threads.apply_watermarks(ours.conversation, [ours])
        return Result(f"Echo of our reply {ours.id}")
    conversation = threads.messenger_conversation(
        session, channel, message.psid, ctx, reopen_closed=False
    )
    added = threads.add_message(
        session, conversation, facebook_id=message.mid, direction=Direction.OUTBOUND,
        text=message.text, sent_at=message.sent_at, sent_from_facebook=True,
        attachments=[asdict(a) for a in message.attachments], status=OutboundStatus.SENT,
    )  # fmt: skip
    threads.apply_watermarks(conversation, [added])
    return Result(f"Reply sent from Facebook, in conversation {conversation.id}")


def on_watermark(session: Session, channel: Channel, payload: dict, ctx: threads.Context) -> Result:
    """Deliveries and reads: our messages up to the watermark are delivered / read."""
    kind = "read" if "read" in payload else "delivery"
    watermark = webhooks.from_ms(payload[kind]["watermark"])
    conversation = threads.latest_messenger_conversation(
        session, channel, str(payload["sender"]["id"])
    )
    if conversation is None:
        return Result(f"Ignored: a {kind} receipt for a conversation Pagedesk does not have", True)
    if kind == "read":
        conversation.read_watermark = max(filter(None, [conversation.read_watermark, watermark]))
    else:
        current = conversation.delivered_watermark
        conversation.delivered_watermark = max(filter(None, [current, watermark]))
    pending = threads.awaiting_receipts(session, conversation, read=kind == "read")
    changed = threads.apply_watermarks(conversation, pending)
    return Result(f"{changed} message(s) marked {'read' if kind == 'read' else 'delivered'}")


def on_reaction(session: Session, channel: Channel, payload: dict, ctx: threads.Context) -> Result:
    """A reaction on a message (it also opens the 24-hour window)."""
    reaction, psid = payload["reaction"], str(payload["sender"]["id"])
    target = threads.find_message(session, channel, str(reaction["mid"]))
    if target is None:
        raise NotYetError("the message this reaction is for has not arrived yet")
    reactions = dict(target.reactions or {})
    if reaction.get("action") == "unreact":
        reactions.pop(psid, None)
    else:
        reactions[psid] = reaction.get("emoji") or reaction.get("reaction") or "?"
    target.reactions = reactions
    threads.customer_spoke(target.conversation, webhooks.from_ms(payload.get("timestamp") or 0))
    return Result(f"Reaction on message {target.id}")


def on_edit(session: Session, channel: Channel, payload: dict, ctx: threads.Context) -> Result:
    """An edited message: the new text, with the earlier one kept visible."""
    edit = payload["message_edit"]
    target = threads.find_message(session, channel, str(edit["mid"]))
    if target is None:
        raise NotYetError("the edited message has not arrived yet")
    threads.edit_text(target, edit.get("text"))
    return Result(f"Message {target.id} edited")


def on_policy(session: Session, channel: Channel, payload: dict, ctx: threads.Context) -> Result:
    """Facebook warned or blocked the app on this page; admins see a block on the channel."""
    enforcement = payload["policy_enforcement"]
    action, reason = enforcement.get("action"), enforcement.get("reason") or ""
    if action == "block":
        channel.policy_block = reason[:1000] or "Facebook blocked the app on this page."
    elif action == "unblock":
        channel.policy_block = None
    return Result(f"Policy {action}: {reason}".strip())


def on_comment(session: Session, channel: Channel, payload: dict, ctx: threads.Context) -> Result:
    """Comments on the page's posts: threads become conversations."""
    return comment_threads.apply_comment(session, channel, webhooks.comment(payload), ctx)


Handler = Callable[[Session, Channel, dict, threads.Context], Result]
HANDLERS: dict[str, Handler] = {
    "message": on_message,
    "postback": on_postback,
    "echo": on_echo,
    "delivery": on_watermark,
    "read": on_watermark,
    "reaction": on_reaction,
    "edit": on_edit,
    "policy": on_policy,
    "comment": on_comment,
}
