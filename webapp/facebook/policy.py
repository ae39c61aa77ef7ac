"""Facebook's messaging policy (reference §7) as pure functions of times, rules and text.

Nothing here knows Flask or the database: the composer asks what may be sent
and the outbox asks how to send it, passing the customer's last action time,
the channel's rules and ``now``, all timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

WINDOW = timedelta(hours=24)  # standard messaging window (reference §7.1)
HUMAN_AGENT_WINDOW = timedelta(days=7)  # HUMAN_AGENT tag (reference §7.2)
PRIVATE_REPLY_WINDOW = timedelta(days=7)  # one private reply per comment (reference §7.5)
URGENT = timedelta(hours=1)  # the composer highlights the window's last hour

NEVER_WROTE = "The customer has to write first: Facebook never lets a page start a conversation."


class Kind(StrEnum):
    """Under which rule a message goes; the values are ``webapp.models.MessageKind``'s."""

    STANDARD = "standard"
    HUMAN_AGENT = "human_agent"
    SUBSCRIPTION = "subscription"


@dataclass(frozen=True)
class Rules:
    """What a channel's admin turned on after Facebook approved it."""

    human_agent_enabled: bool = False
    subscription_enabled: bool = False


@dataclass(frozen=True)
class WindowState:
    """The 24-hour window as the composer shows it."""

    is_open: bool
    closes_at: datetime | None  # None when the customer never wrote
    label: str
    urgent: bool  # open, with less than an hour left


@dataclass(frozen=True)
class Option:
    """One kind of reply, and why not when it is not allowed."""

    kind: Kind
    allowed: bool
    reason: str | None


@dataclass(frozen=True)
class SendPlan:
    """How the Send API is told which rule a message goes under."""

    kind: Kind
    messaging_type: str  # "RESPONSE" | "MESSAGE_TAG" | "NON_PROMOTIONAL_SUBSCRIPTION"
    tag: str | None


class PolicyError(Exception):
    """Facebook's rules forbid this send; ``str(error)`` is a sentence for the agent."""


class CustomerMustWriteFirstError(PolicyError):
    """Nothing can be sent: the customer never wrote, and a page cannot start a conversation."""


class WindowClosedError(PolicyError):
    """A standard reply after the 24-hour window closed."""

    def __init__(self, message: str, *, closed_at: datetime) -> None:
        super().__init__(message)
        self.closed_at = closed_at


_PLANS = {
    Kind.STANDARD: SendPlan(Kind.STANDARD, "RESPONSE", None),
    Kind.HUMAN_AGENT: SendPlan(Kind.HUMAN_AGENT, "MESSAGE_TAG", "HUMAN_AGENT"),
    Kind.SUBSCRIPTION: SendPlan(Kind.SUBSCRIPTION, "NON_PROMOTIONAL_SUBSCRIPTION", None),
}
_INSTEAD = {
    Kind.HUMAN_AGENT: "with the Human Agent tag",
    Kind.SUBSCRIPTION: "as a subscription message",
}


def _ago(delta: timedelta) -> str:
    """'2 days ago', '3 hours ago', '5 min ago', 'just now' (rounded down)."""
    if delta >= timedelta(days=1):
        count, unit = delta.days, "day"
    elif delta >= timedelta(hours=1):
        count, unit = delta // timedelta(hours=1), "hour"
    elif delta >= timedelta(minutes=1):
        return f"{delta // timedelta(minutes=1)} min ago"
    else:
        return "just now"
    return f"{count} {unit}{'' if count == 1 else 's'} ago"


def reply_window(last_customer_at: datetime | None, now: datetime) -> WindowState:
    """Whether the standard 24-hour window is open, and how the composer words it."""
    if last_customer_at is None:
        return WindowState(False, None, "The customer hasn't written yet", False)
    closes_at = last_customer_at + WINDOW
    left = closes_at - now
    # Exactly 24:00 after counts as closed: Facebook says "within 24 hours", and a
    # send reaches Facebook a moment after we decide, so the safe reading wins.
    if left <= timedelta(0):
        return WindowState(False, closes_at, f"Window closed {_ago(-left)}", False)
    minutes = left // timedelta(minutes=1)  # rounded down: never promise time we lack
    if left < URGENT:
        label = f"Window closes in {minutes} min" if minutes else "Window closes in under a minute"
        return WindowState(True, closes_at, label, True)
    hours, minutes = divmod(minutes, 60)
    return WindowState(True, closes_at, f"Reply window: {hours} h {minutes} min left", False)


def _standard_problem(window: WindowState) -> str | None:
    if window.is_open:
        return None
    return (
        f"{window.label}: Facebook allows a standard reply only within 24 hours"
        " of the customer's last message."
    )


def _human_agent_problem(
    window: WindowState, last: datetime, now: datetime, rules: Rules, by_person: bool
) -> str | None:
    if window.is_open:
        return "The window is open, so send a standard reply: the Human Agent tag is for later."
    if not rules.human_agent_enabled:
        return (
            "Human Agent replies are off for this page. An admin can turn them on in its"
            " settings once Facebook has approved the feature."
        )
    if not by_person:
        return "Only a reply a person typed may use the Human Agent tag, never an automated one."
    # As with the window, exactly 7 days after is already too late.
    if now - last >= HUMAN_AGENT_WINDOW:
        return (
            f"The customer last wrote {_ago(now - last)}: the Human Agent tag covers 7 days,"
            " so nothing can be sent until they write again."
        )
    return None


def _subscription_problem(window: WindowState, rules: Rules) -> str | None:
    if window.is_open:
        return "The window is open, so send a standard reply: subscription messages are for later."
    if not rules.subscription_enabled:
        return (
            "Subscription messages are off for this page: Facebook grants them only to pages"
            " in its News Page Index."
        )
    return None


def reply_options(
    last_customer_at: datetime | None, now: datetime, rules: Rules, *, by_person: bool = True
) -> list[Option]:
    """One option per kind (standard, Human Agent, subscription): allowed, or why not."""
    window = reply_window(last_customer_at, now)
    if last_customer_at is None:
        return [Option(kind, False, NEVER_WROTE) for kind in Kind]
    problems = {
        Kind.STANDARD: _standard_problem(window),
        Kind.HUMAN_AGENT: _human_agent_problem(window, last_customer_at, now, rules, by_person),
        Kind.SUBSCRIPTION: _subscription_problem(window, rules),
    }
    return [Option(kind, problem is None, problem) for kind, problem in problems.items()]


def plan_send(
    kind: Kind | str,
    last_customer_at: datetime | None,
    now: datetime,
    rules: Rules,
    *,
    by_person: bool = True,
) -> SendPlan:
    """The Send API's ``messaging_type`` and ``tag`` for this kind, or a PolicyError why not."""
    try:
        kind = Kind(kind)
    except ValueError:
        raise PolicyError(f"“{kind}” is not a kind of message Facebook sends.") from None
    options = reply_options(last_customer_at, now, rules, by_person=by_person)
    chosen = next(option for option in options if option.kind is kind)
    if chosen.allowed:
        return _PLANS[kind]
    reason = chosen.reason or NEVER_WROTE
    if last_customer_at is None:
        raise CustomerMustWriteFirstError(reason)
    if kind is Kind.STANDARD:
        hint = next((f" Send it {_INSTEAD[o.kind]} instead." for o in options if o.allowed), "")
        raise WindowClosedError(reason + hint, closed_at=last_customer_at + WINDOW)
    raise PolicyError(reason)


def private_reply_problem(
    comment_at: datetime, replied_at: datetime | None, now: datetime, *, by_page: bool = False
) -> str | None:
    """Why no private reply may go to this comment (one each, within 7 days), or None."""
    if by_page:
        return "This comment is the page's own: private replies go only to a customer's comment."
    if replied_at is not None:
        return (
            "This comment already has its private reply: Facebook allows one per comment."
            " The conversation continues in Messenger once the customer answers."
        )
    age = now - comment_at
    if age >= PRIVATE_REPLY_WINDOW:  # exactly 7 days is refused too: the safe reading
        return (
            "Facebook allows a private reply only within 7 days of the comment,"
            f" and this one was written {_ago(age)}."
        )
    return None
