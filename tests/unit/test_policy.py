"""Facebook's messaging policy: the windows, the tags, the text rules (reference §7)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from webapp.facebook import content, policy
from webapp.facebook.policy import Kind, Rules

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ALL_ON = Rules(human_agent_enabled=True, subscription_enabled=True)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def allowed(last: datetime | None, rules: Rules = ALL_ON, **kwargs: bool) -> list[Kind]:
    return [o.kind for o in policy.reply_options(last, NOW, rules, **kwargs) if o.allowed]


def reason(kind: Kind, last: datetime | None, rules: Rules = ALL_ON, **kwargs: bool) -> str:
    [option] = [o for o in policy.reply_options(last, NOW, rules, **kwargs) if o.kind is kind]
    assert not option.allowed
    assert option.reason
    return option.reason


# The 24-hour window ----------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "is_open"),
    [
        (timedelta(hours=23, minutes=59), True),
        (timedelta(hours=23, minutes=59, seconds=59), True),
        (timedelta(hours=24), False),  # exactly 24:00 is closed: the safe reading
        (timedelta(hours=24, minutes=1), False),
    ],
)
def test_the_window_edges(elapsed: timedelta, is_open: bool) -> None:
    state = policy.reply_window(NOW - elapsed, NOW)
    assert state.is_open is is_open
    assert state.closes_at == NOW - elapsed + policy.WINDOW
    assert (Kind.STANDARD in allowed(NOW - elapsed)) is is_open


@pytest.mark.parametrize(
    ("elapsed", "label", "urgent"),
    [
        (timedelta(0), "Reply window: 24 h 0 min left", False),
        (timedelta(hours=18, minutes=48), "Reply window: 5 h 12 min left", False),
        (timedelta(hours=18, minutes=47, seconds=30), "Reply window: 5 h 12 min left", False),
        (timedelta(hours=23), "Reply window: 1 h 0 min left", False),
        (timedelta(hours=23, seconds=1), "Window closes in 59 min", True),
        (timedelta(hours=23, minutes=40), "Window closes in 20 min", True),
        (timedelta(hours=23, minutes=59, seconds=30), "Window closes in under a minute", True),
        (timedelta(hours=24), "Window closed just now", False),
        (timedelta(hours=24, minutes=5), "Window closed 5 min ago", False),
        (timedelta(hours=25), "Window closed 1 hour ago", False),
        (timedelta(hours=27, minutes=59), "Window closed 3 hours ago", False),
        (timedelta(days=2), "Window closed 1 day ago", False),
        (timedelta(days=3, hours=5), "Window closed 2 days ago", False),
    ],
)
def test_window_labels(elapsed: timedelta, label: str, urgent: bool) -> None:
    state = policy.reply_window(NOW - elapsed, NOW)
    assert (state.label, state.urgent) == (label, urgent)


def test_a_customer_who_never_wrote_gets_nothing() -> None:
    state = policy.reply_window(None, NOW)
    assert state == policy.WindowState(False, None, "The customer hasn't written yet", False)
    options = policy.reply_options(None, NOW, ALL_ON)
    assert [o.kind for o in options] == [Kind.STANDARD, Kind.HUMAN_AGENT, Kind.SUBSCRIPTION]
    assert not [o for o in options if o.allowed]
    assert {o.reason for o in options} == {policy.NEVER_WROTE}
    assert "customer has to write first" in policy.NEVER_WROTE
    with pytest.raises(policy.CustomerMustWriteFirstError, match="write first"):
        policy.plan_send(Kind.STANDARD, None, NOW, ALL_ON)


def test_options_come_in_a_fixed_order_inside_the_window() -> None:
    options = policy.reply_options(ago(hours=1), NOW, ALL_ON)
    assert [o.kind for o in options] == [Kind.STANDARD, Kind.HUMAN_AGENT, Kind.SUBSCRIPTION]
    assert [o.allowed for o in options] == [True, False, False]
    assert options[0].reason is None


def test_a_standard_reply_inside_the_window_is_a_response() -> None:
    plan = policy.plan_send(Kind.STANDARD, ago(hours=23, minutes=59), NOW, Rules())
    assert plan == policy.SendPlan(Kind.STANDARD, "RESPONSE", None)


def test_a_standard_reply_after_the_window_says_when_it_closed() -> None:
    with pytest.raises(policy.WindowClosedError) as caught:
        policy.plan_send(Kind.STANDARD, ago(days=3), NOW, Rules())
    assert str(caught.value).startswith("Window closed 2 days ago: ")
    assert caught.value.closed_at == ago(days=2)
    assert "instead" not in str(caught.value)  # nothing else is on for this page


def test_a_closed_window_suggests_what_the_page_may_still_send() -> None:
    with pytest.raises(policy.WindowClosedError, match="Human Agent tag instead"):
        policy.plan_send(Kind.STANDARD, ago(days=2), NOW, ALL_ON)
    only_subscription = Rules(subscription_enabled=True)
    with pytest.raises(policy.WindowClosedError, match="subscription message instead"):
        policy.plan_send("standard", ago(days=2), NOW, only_subscription)


# HUMAN_AGENT -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "ok"),
    [
        (timedelta(hours=24, minutes=1), True),
        (timedelta(days=6, hours=23), True),
        (timedelta(days=7), False),
        (timedelta(days=7, hours=1), False),
    ],
)
def test_human_agent_covers_seven_days_after_the_window(elapsed: timedelta, ok: bool) -> None:
    last = NOW - elapsed
    assert (Kind.HUMAN_AGENT in allowed(last)) is ok
    if ok:
        plan = policy.plan_send(Kind.HUMAN_AGENT, last, NOW, ALL_ON)
        assert plan == policy.SendPlan(Kind.HUMAN_AGENT, "MESSAGE_TAG", "HUMAN_AGENT")
    else:
        assert "covers 7 days" in reason(Kind.HUMAN_AGENT, last)
        with pytest.raises(policy.PolicyError, match="until they write again"):
            policy.plan_send(Kind.HUMAN_AGENT, last, NOW, ALL_ON)


def test_human_agent_needs_the_channel_to_enable_it() -> None:
    rules = Rules(human_agent_enabled=False, subscription_enabled=True)
    assert "off for this page" in reason(Kind.HUMAN_AGENT, ago(days=2), rules)
    with pytest.raises(policy.PolicyError, match="off for this page"):
        policy.plan_send(Kind.HUMAN_AGENT, ago(days=2), NOW, rules)


def test_human_agent_is_only_for_replies_a_person_typed() -> None:
    assert "a person typed" in reason(Kind.HUMAN_AGENT, ago(days=2), by_person=False)
    assert allowed(ago(days=2), by_person=False) == [Kind.SUBSCRIPTION]
    with pytest.raises(policy.PolicyError, match="never an automated one"):
        policy.plan_send(Kind.HUMAN_AGENT, ago(days=2), NOW, ALL_ON, by_person=False)


def test_human_agent_is_never_used_inside_the_window() -> None:
    assert "send a standard reply" in reason(Kind.HUMAN_AGENT, ago(hours=23))
    with pytest.raises(policy.PolicyError, match="standard reply"):
        policy.plan_send(Kind.HUMAN_AGENT, ago(hours=23), NOW, ALL_ON)


# Subscription messages -------------------------------------------------------


def test_subscription_messages_need_the_channel_to_have_them() -> None:
    on, off = Rules(subscription_enabled=True), Rules()
    assert allowed(ago(days=30), on) == [Kind.SUBSCRIPTION]  # no time limit
    assert allowed(ago(days=30), off) == []
    assert "News Page Index" in reason(Kind.SUBSCRIPTION, ago(days=2), off)
    plan = policy.plan_send(Kind.SUBSCRIPTION, ago(days=30), NOW, on)
    assert plan == policy.SendPlan(Kind.SUBSCRIPTION, "NON_PROMOTIONAL_SUBSCRIPTION", None)


def test_subscription_messages_are_never_offered_inside_the_window() -> None:
    assert allowed(ago(hours=23, minutes=59)) == [Kind.STANDARD]
    assert "send a standard reply" in reason(Kind.SUBSCRIPTION, ago(minutes=5))
    with pytest.raises(policy.PolicyError, match="standard reply"):
        policy.plan_send(Kind.SUBSCRIPTION, ago(minutes=5), NOW, ALL_ON)


def test_kinds_match_the_models_and_unknown_kinds_are_refused() -> None:
    assert [k.value for k in Kind] == ["standard", "human_agent", "subscription"]
    with pytest.raises(policy.PolicyError, match="not a kind of message"):
        policy.plan_send("note", ago(hours=1), NOW, ALL_ON)


# Text ------------------------------------------------------------------------


def test_text_problems() -> None:
    assert content.text_problems("  \n ") == ["Write a message first."]
    assert content.text_problems("x" * 1999) == []
    assert content.text_problems(" " + "x" * 1999 + "\n") == []  # the ends are trimmed
    assert content.text_problems("x" * 2000) == [
        "Facebook allows fewer than 2,000 characters; this has 2,000. Split it into 2 messages?"
    ]
    long = ("A sentence of some length. " * 87).strip()
    assert len(long) == 2_348
    assert content.text_problems(long) == [
        "Facebook allows fewer than 2,000 characters; this has 2,348. Split it into 2 messages?"
    ]


def assert_same_content(parts: list[str], text: str, limit: int) -> None:
    assert all(0 < len(part) <= limit for part in parts)
    assert all(part == part.strip() for part in parts)
    position = 0
    for part in parts:  # each part comes next in the text, only whitespace between
        found = text.index(part, position)
        assert text[position:found].strip() == ""
        position = found + len(part)
    assert text[position:].strip() == ""
    squeeze = re.compile(r"\s+")
    assert squeeze.sub("", "".join(parts)) == squeeze.sub("", text)


def test_split_text_prefers_paragraphs() -> None:
    text = "First paragraph. It is short.\n\nSecond one, longer than the first.\n\nThird."
    parts = content.split_text(text, limit=40)
    assert parts == [
        "First paragraph. It is short.",
        "Second one, longer than the first.",
        "Third.",
    ]


def test_split_text_then_sentences_then_words_then_anything() -> None:
    assert content.split_text("One two. Three four five six.", limit=20) == [
        "One two.",
        "Three four five six.",
    ]
    assert content.split_text('He said "stop." Then he left the room.', limit=20) == [
        'He said "stop."',
        "Then he left the",
        "room.",
    ]
    assert content.split_text("alpha beta gamma delta", limit=11) == ["alpha beta", "gamma delta"]
    assert content.split_text("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_split_text_keeps_everything_and_every_part_under_the_limit() -> None:
    paragraph = "Thanks for writing to us! " * 30 + "Your order ships Monday.\n\n"
    text = paragraph * 6 + "word " * 700 + "y" * 2500 + "\n\n\n   end"
    parts = content.split_text(text)
    assert len(parts) > 3
    assert all(len(part) < content.TEXT_LIMIT for part in parts)
    assert_same_content(parts, text, content.TEXT_LIMIT - 1)
    assert content.split_text("  short  ") == ["short"]
    assert content.split_text(" \n ") == []
    with pytest.raises(ValueError, match="at least 1"):
        content.split_text("abc", limit=0)


# Promotional terms -----------------------------------------------------------


def test_promotional_terms_are_found_as_whole_words_in_any_case() -> None:
    terms = ["sale", "% off", "promo code", "Free Shipping", "deal"]
    text = "BIG SALE today: 20% off with promo  code SPRING, and free-shipping!"
    assert content.promotional_terms(text, terms) == [
        "sale",
        "% off",
        "promo code",
        "Free Shipping",
    ]
    assert content.promotional_terms("Sale!", terms) == ["sale"]
    assert content.promotional_terms("Take 50%off now", terms) == ["% off"]


def test_promotional_terms_ignore_words_that_only_contain_a_term() -> None:
    terms = ["sale", "deal", "% off"]
    text = "Our wholesale team ideally handles salesforce orders; the dealer is off today."
    assert content.promotional_terms(text, terms) == []
    assert (
        content.promotional_terms("Your refund was sent.", content.DEFAULT_PROMOTIONAL_TERMS) == []
    )


def test_promotional_terms_are_reported_once_in_the_lists_order() -> None:
    terms = ["coupon", "sale", "SALE", " ", "coupon"]
    text = "sale sale coupon Sale"
    assert content.promotional_terms(text, terms) == ["coupon", "sale"]


def test_default_terms_cover_the_usual_promotions() -> None:
    text = "Buy now: a limited-time special offer, use the coupon for a discount."
    found = content.promotional_terms(text, content.DEFAULT_PROMOTIONAL_TERMS)
    assert found == ["discount", "coupon", "special offer", "buy now", "limited time"]


def test_parse_and_store_terms() -> None:
    assert content.parse_terms(None) == content.DEFAULT_PROMOTIONAL_TERMS
    assert content.parse_terms("  \n\n") == content.DEFAULT_PROMOTIONAL_TERMS
    assert content.parse_terms("Sale\n  buy   now \n\nsale\r\nvoucher") == (
        "Sale",
        "buy now",
        "voucher",
    )
    assert content.terms_to_store("\n".join(content.DEFAULT_PROMOTIONAL_TERMS)) is None
    assert content.terms_to_store("  ") is None
    assert content.terms_to_store(" sale \nsale\nvoucher ") == "sale\nvoucher"


# Attachments and private replies ---------------------------------------------


def test_attachment_problems() -> None:
    assert content.attachment_problem("image", 1) is None
    assert content.attachment_problem("file", content.MAX_ATTACHMENT_BYTES) is None
    too_big = content.attachment_problem("video", content.MAX_ATTACHMENT_BYTES + 1)
    assert too_big == "Facebook takes attachments up to 25 MB; this one is 25.1 MB."
    assert content.attachment_problem("audio", 0) == "That file is empty."
    assert "“sticker”" in (content.attachment_problem("sticker", 10) or "")


def test_private_replies_once_within_seven_days_to_customers_only() -> None:
    assert policy.private_reply_problem(ago(days=6, hours=23), None, NOW) is None
    late = policy.private_reply_problem(ago(days=7), None, NOW)
    assert late == (
        "Facebook allows a private reply only within 7 days of the comment,"
        " and this one was written 7 days ago."
    )
    assert "8 days ago" in (policy.private_reply_problem(ago(days=8), None, NOW) or "")
    twice = policy.private_reply_problem(ago(hours=1), ago(minutes=5), NOW)
    assert "one per comment" in (twice or "")
    own = policy.private_reply_problem(ago(hours=1), None, NOW, by_page=True)
    assert "the page's own" in (own or "")
