"""What a message may say and carry: Facebook's text limit, splitting, attachments,
and the words that mark a message as promotional (reference §6.1, §7.2, §7.3).

Pure functions, like :mod:`webapp.facebook.policy`, which decides *when* and
*how* a message may go; this module decides *what* it may contain.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable

TEXT_LIMIT = 2000  # message.text must be LESS than 2000 characters
MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024
ATTACHMENT_TYPES = ("image", "video", "audio", "file")
DEFAULT_PROMOTIONAL_TERMS: tuple[str, ...] = (
    "sale", "discount", "discounts", "% off", "coupon", "coupons", "promo code", "promo",
    "promotion", "special offer", "exclusive offer", "deal", "deals", "free shipping",
    "free gift", "buy now", "shop now", "order now", "limited time", "clearance", "voucher",
    "bargain", "black friday", "cyber monday", "save up to",
)  # fmt: skip


def text_problems(text: str) -> list[str]:
    """What stops this text being sent, counted after trimming its ends as it is sent."""
    body = text.strip()
    if not body:
        return ["Write a message first."]
    if len(body) >= TEXT_LIMIT:
        return [
            f"Facebook allows fewer than {TEXT_LIMIT:,} characters; this has {len(body):,}."
            f" Split it into {len(split_text(body))} messages?"
        ]
    return []


# Each pattern's group 1 is where a part may end: a blank line, the space after a
# sentence's end (closing quotes and brackets stay with it), or any space.
_CUTS = (
    re.compile(r"(\n)[^\S\n]*\n"),
    re.compile(r"[.!?…][\"'”’)\]]*(\s)"),
    re.compile(r"(\s)"),
)


def _cut(window: str, limit: int) -> int:
    for pattern in _CUTS:
        ends = [match.start(1) for match in pattern.finditer(window)]
        if ends and 0 < ends[-1] <= limit:
            return ends[-1]
    return limit


def split_text(text: str, limit: int = TEXT_LIMIT - 1) -> list[str]:
    """Parts of at most ``limit`` characters, cut at paragraphs, then sentences, then words.

    Nothing is lost or reordered; only the whitespace at each cut and at the ends goes.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut(rest[: limit + 1], limit)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _wordy(char: str) -> bool:
    return char.isalnum() or char == "_"


@functools.lru_cache(maxsize=1024)
def _term_pattern(term: str) -> re.Pattern[str]:
    """Whole words, any case; words may be joined by spaces or hyphens ("limited-time")."""
    tokens = term.split()
    pattern = re.escape(tokens[0])
    for before, after in zip(tokens, tokens[1:], strict=False):
        joint = r"[\s-]+" if _wordy(before[-1]) and _wordy(after[0]) else r"\s*"
        pattern += joint + re.escape(after)
    if _wordy(term[0]):
        pattern = r"(?<!\w)" + pattern
    if _wordy(term[-1]):
        pattern += r"(?!\w)"
    return re.compile(pattern, re.IGNORECASE)


def _unique(terms: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for term in terms:
        if (clean := " ".join(term.split())) and clean.casefold() not in seen:
            seen[clean.casefold()] = clean
    return tuple(seen.values())


def promotional_terms(text: str, terms: Iterable[str]) -> list[str]:
    """The terms that occur in ``text`` as whole words, any case, each once, in list order."""
    return [term for term in _unique(terms) if _term_pattern(term).search(text)]


def parse_terms(stored: str | None) -> tuple[str, ...]:
    """A channel's stored list (one term per line), or the default when none is stored."""
    return _unique((stored or "").splitlines()) or DEFAULT_PROMOTIONAL_TERMS


def terms_to_store(submitted: str | None) -> str | None:
    """What a channel stores for this list: None for blank or the default list unchanged."""
    terms = parse_terms(submitted)
    return None if terms == DEFAULT_PROMOTIONAL_TERMS else "\n".join(terms)


def attachment_problem(kind: str, size: int) -> str | None:
    """Why Facebook would refuse this attachment, or None."""
    if kind not in ATTACHMENT_TYPES:
        return f"Facebook can't send a “{kind}” attachment: only an image, video, audio or file."
    if size <= 0:
        return "That file is empty."
    if size > MAX_ATTACHMENT_BYTES:
        megabytes = math.ceil(size * 10 / (1024 * 1024)) / 10
        return f"Facebook takes attachments up to 25 MB; this one is {megabytes:.1f} MB."
    return None
