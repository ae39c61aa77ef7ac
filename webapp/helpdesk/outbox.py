"""The outbox: every reply is stored before it is sent, and sent at most once.

A reply is claimed with a lease in one conditional UPDATE, and the claim is
committed before the HTTP call, so two agents pressing Send, a Retry button and
the ``retry-outbox`` job can race for it and only one of them sends. When
Facebook's answer is lost (a timeout after sending, 1/1357046) the reply waits
for its echo instead of being sent again; when the page's key is dead the reply
is held, never dropped, until the page is reconnected.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, joinedload

from webapp.facebook import policy
from webapp.facebook.errors import (
    AlreadyRepliedPrivatelyError,
    GraphError,
    OutcomeUnknownError,
    TokenInvalidError,
)
from webapp.helpdesk import channels, deliveries, lost_access
from webapp.helpdesk.errors import NotFoundError
from webapp.helpdesk.kit import FacebookKit
from webapp.helpdesk.threads import system_line
from webapp.helpdesk.vault import VaultError
from webapp.models import (
    Channel,
    ChannelStatus,
    Conversation,
    Message,
    OutboundStatus,
    Route,
    utcnow,
)

LEASE = timedelta(minutes=2)
# How long a reply whose outcome is unknown waits for Facebook's echo before it
# is sent again: echoes arrive within seconds when the send went through.
SETTLE_WAIT = timedelta(minutes=2)
MAX_ATTEMPTS = 6
CAN_SEND = (ChannelStatus.ACTIVE, ChannelStatus.EXPIRING)


def backoff(attempts: int) -> timedelta:
    """15 s, 30 s, 1 min ... up to 30 minutes between tries."""
    return timedelta(seconds=min(15 * 2 ** max(attempts - 1, 0), 1800))


def _ready(now: datetime):  # noqa: ANN202 (a SQL expression)
    return or_(
        and_(Message.status == OutboundStatus.QUEUED, Message.next_attempt_at <= now),
        # Nobody heard back and no echo came: it was not sent after all.
        and_(Message.status == OutboundStatus.UNCONFIRMED, Message.next_attempt_at <= now),
    )


def claim(session: Session, message_id: int, *, now: datetime) -> bool:
    """Take this reply for sending, committed; False when someone else has it."""
    claimed = session.execute(
        update(Message)
        .where(Message.id == message_id, _ready(now))
        .values(
            status=OutboundStatus.SENDING, lease_until=now + LEASE, attempts=Message.attempts + 1
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return bool(claimed)


def deliver(session: Session, message_id: int, *, kit: FacebookKit, now: datetime) -> bool:
    """Send one queued reply if this caller wins the claim; True when it tried."""
    if not claim(session, message_id, now=now):
        return False
    # The claim's commit expired everything: one statement reloads what sending reads.
    through = joinedload(Message.conversation)
    message = session.scalars(
        select(Message)
        .where(Message.id == message_id)
        .options(through.joinedload(Conversation.channel), through.joinedload(Conversation.contact))
        .execution_options(populate_existing=True)
    ).one()
    channel = message.conversation.channel
    if channel.status not in CAN_SEND or not channel.page_token_sealed:
        _finish(session, message, OutboundStatus.HELD, failure=_held_reason(channel))
        return True
    try:
        send_plan = deliveries.plan(message, now, channels.messaging_rules(channel))
    except policy.PolicyError as error:
        _finish(session, message, OutboundStatus.FAILED, failure=str(error))
        return True
    try:
        token = kit.vault.open(channel.page_token_sealed)
        result = deliveries.send(kit.graph, session, message, channel, token, send_plan)
    except GraphError as error:
        _refused(session, message, channel, error, now)
        return True
    except VaultError:
        text = "Pagedesk can no longer read this page's key (SECRET_KEY changed): reconnect it."
        _finish(session, message, OutboundStatus.HELD, failure=text)
        return True
    except NotFoundError as error:  # the attached file is gone
        _finish(session, message, OutboundStatus.FAILED, failure=str(error))
        return True
    _sent(session, message, result.facebook_id, now)
    return True


def _held_reason(channel: Channel) -> str:
    return (
        f"Waiting: “{channel.name}” must be reconnected before Pagedesk can send."
        f" {channel.status_reason or ''}"
    ).strip()


def _policy_problem(message: Message, now: datetime) -> str | None:
    """The rules again: a reply held for hours may now be outside the window."""
    try:
        deliveries.plan(message, now, channels.messaging_rules(message.conversation.channel))
    except policy.PolicyError as error:
        return str(error)
    return None


def _finish(
    session: Session,
    message: Message,
    status: OutboundStatus,
    *,
    failure: str | None = None,
    code: str | None = None,
    next_attempt_at: datetime | None = None,
) -> None:
    # Conditional: an echo processed meanwhile may already have marked it sent.
    session.execute(
        update(Message)
        .where(Message.id == message.id, Message.status == OutboundStatus.SENDING)
        .values(
            status=status,
            failure=failure[:500] if failure else None,
            failure_code=code,
            next_attempt_at=next_attempt_at,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    deliveries.touch(session, message.conversation_id)
    session.commit()


def _sent(session: Session, message: Message, facebook_id: str | None, now: datetime) -> None:
    values: dict[str, object] = {"status": OutboundStatus.SENT, "sent_at": now}
    values.update(failure=None, failure_code=None, lease_until=None, next_attempt_at=None)
    if facebook_id:
        values["facebook_id"] = facebook_id
    session.execute(
        update(Message)
        .where(
            Message.id == message.id,
            Message.status.in_([OutboundStatus.SENDING, OutboundStatus.UNCONFIRMED]),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if message.route is Route.PRIVATE_REPLY:
        deliveries.mark_privately_replied(session, message, now)
    deliveries.touch(session, message.conversation_id)
    session.commit()


def _refused(
    session: Session, message: Message, channel: Channel, error: GraphError, now: datetime
) -> None:
    code = "/".join(str(c) for c in (error.code, error.subcode) if c is not None) or None
    if isinstance(error, OutcomeUnknownError):
        _finish(
            session, message, OutboundStatus.UNCONFIRMED, failure=error.explanation,
            code=code, next_attempt_at=now + SETTLE_WAIT,
        )  # fmt: skip
    elif isinstance(error, TokenInvalidError):
        _finish(session, message, OutboundStatus.HELD, failure=error.explanation, code=code)
        _lose_access(session, channel, error, now)
    elif error.retryable and message.attempts < MAX_ATTEMPTS:
        text = f"{error.explanation} Pagedesk tries again by itself."
        _finish(
            session, message, OutboundStatus.QUEUED, failure=text, code=code,
            next_attempt_at=now + backoff(message.attempts),
        )  # fmt: skip
    else:
        if isinstance(error, AlreadyRepliedPrivatelyError):
            deliveries.mark_privately_replied(session, message, now)
        _finish(session, message, OutboundStatus.FAILED, failure=error.explanation, code=code)


def _lose_access(
    session: Session, channel: Channel, error: TokenInvalidError, now: datetime
) -> None:
    channel = session.get(Channel, channel.id) or channel
    lost_access.mark_token_refused(session, channel=channel, error=error, now=now)
    session.commit()


def retry(session: Session, *, message_id: int, now: datetime | None = None) -> Message:
    """An agent's Retry: a failed reply goes back in the queue (sent by the caller or the job)."""
    now = now or utcnow()
    message = deliveries.get_outbound(session, message_id)
    if message.status is OutboundStatus.FAILED:
        message.status, message.next_attempt_at = OutboundStatus.QUEUED, now
        message.failure = message.failure_code = None
        message.attempts = 0
        deliveries.touch(session, message.conversation_id)
        session.commit()
    return message


def release_held(session: Session, *, channel_id: int, now: datetime) -> int:
    """After a reconnect: each held reply is checked again, then queued or failed with why.

    Does not commit; returns how many were queued.
    """
    held = session.scalars(
        select(Message)
        .where(Message.channel_id == channel_id, Message.status == OutboundStatus.HELD)
        .order_by(Message.id)
    ).all()
    queued = 0
    for message in held:
        message.status, message.failure = OutboundStatus.QUEUED, None
        message.next_attempt_at = now
        if problem := _policy_problem(message, now):
            message.status = OutboundStatus.FAILED
            message.failure = f"Not sent after the reconnect: {problem}"[:500]
            system_line(
                session, message.conversation,
                "A held reply could not be sent after the page was reconnected:"
                f" {problem}", now,
            )  # fmt: skip
        else:
            queued += 1
        deliveries.touch(session, message.conversation_id)
    return queued


def expire_leases(session: Session, *, now: datetime) -> int:
    """A sender died mid-call: its reply may have gone out, so it waits for the echo."""
    count = session.execute(
        update(Message)
        .where(Message.status == OutboundStatus.SENDING, Message.lease_until < now)
        .values(
            status=OutboundStatus.UNCONFIRMED, lease_until=None, next_attempt_at=now + SETTLE_WAIT
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    return count


def deliver_due(session: Session, *, kit: FacebookKit, now: datetime | None = None) -> int:
    """The ``retry-outbox`` job: send every reply that is due; how many were tried."""
    now = now or utcnow()
    expire_leases(session, now=now)
    due = session.scalars(
        select(Message.id).where(_ready(now)).order_by(Message.next_attempt_at).limit(200)
    ).all()
    return sum(deliver(session, message_id, kit=kit, now=now) for message_id in due)
