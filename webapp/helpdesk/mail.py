"""Email: every message is written to the mail log first, then sent, retried, never lost.

Nothing here knows SMTP: a :class:`Mailer` (``webapp/mailer.py``, Flask-Mailman)
is handed in. Without one (no ``MAIL_SERVER``) a message is only logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from webapp.models import MailLog, MailStatus

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)

# Its own Jinja environment, not Flask's: services render without an app. The
# HTML versions escape every value, page names from Facebook included.
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parents[1] / "templates" / "email"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class MailFailure(Exception):
    """Sending failed; ``permanent`` when trying again cannot help (the address is refused)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Mailer(Protocol):
    def send(self, *, to: str, subject: str, text: str, html: str | None) -> None:
        """Hand one message to the mail server, or raise :class:`MailFailure`."""


@dataclass
class Delivery:
    """What one pass over the mail log did."""

    sent: int = 0
    logged: int = 0
    failed: int = 0

    def __str__(self) -> str:
        parts = [f"{self.sent} sent", f"{self.failed} failed"]
        if self.logged:
            parts.append(f"{self.logged} written to the log only (no MAIL_SERVER)")
        return ", ".join(parts)


def render(name: str, **context: Any) -> tuple[str, str]:
    """The plain-text and HTML versions of ``email/{name}.txt`` and ``.html``."""
    text = _templates.get_template(f"{name}.txt").render(**context)
    html = _templates.get_template(f"{name}.html").render(**context)
    return text, html


def queue(session: Session, *, to: str, subject: str, text: str, html: str | None) -> MailLog:
    """Add a message to the mail log, to be sent by the next delivery (not committed)."""
    mail = MailLog(to_address=to, subject=" ".join(subject.split()), text=text, html=html)
    session.add(mail)
    return mail


def _due(now: datetime) -> Any:
    waiting = and_(
        MailLog.status.in_([MailStatus.QUEUED, MailStatus.FAILED]),
        MailLog.next_attempt_at.is_not(None),
        MailLog.next_attempt_at <= now,
    )
    abandoned = and_(MailLog.status == MailStatus.SENDING, MailLog.lease_until < now)
    return or_(waiting, abandoned)


def deliver_due(
    session: Session, *, mailer: Mailer | None, now: datetime, limit: int = 200
) -> Delivery:
    """Send every message whose time has come; a failure is kept and retried with backoff."""
    result = Delivery()
    ids = list(
        session.scalars(select(MailLog.id).where(_due(now)).order_by(MailLog.id).limit(limit))
    )
    session.commit()
    for mail_id in ids:
        if _claim(session, mail_id, now):
            _send(session, session.get(MailLog, mail_id), mailer, now, result)
    return result


def _claim(session: Session, mail_id: int, now: datetime) -> bool:
    # One UPDATE: of two processes delivering at once, only one sends each message.
    claimed = session.execute(
        update(MailLog)
        .where(MailLog.id == mail_id, _due(now))
        .values(status=MailStatus.SENDING, lease_until=now + LEASE, tries=MailLog.tries + 1)
    )
    session.commit()
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def _send(
    session: Session, mail: MailLog | None, mailer: Mailer | None, now: datetime, result: Delivery
) -> None:
    if mail is None:
        return
    if mailer is None:
        log.info("Email to %s: %s\n%s", mail.to_address, mail.subject, mail.text)
        mail.status, mail.sent_at, mail.next_attempt_at = MailStatus.LOGGED, now, None
        result.logged += 1
    else:
        try:
            mailer.send(to=mail.to_address, subject=mail.subject, text=mail.text, html=mail.html)
        except MailFailure as failure:
            mail.status, mail.error = MailStatus.FAILED, str(failure)[:1000]
            mail.next_attempt_at = None if failure.permanent else now + backoff(mail.tries)
            result.failed += 1
        else:
            mail.status, mail.sent_at, mail.error = MailStatus.SENT, now, None
            mail.next_attempt_at = None
            result.sent += 1
    mail.lease_until = None
    session.commit()


def backoff(tries: int) -> timedelta:
    """The pause before the next try: 1, 2, 4 ... minutes, at most an hour."""
    return min(FIRST_RETRY * 2 ** max(tries - 1, 0), LONGEST_RETRY)


def recent(session: Session, *, status: str | None = None, limit: int = 200) -> list[MailLog]:
    """The mail log, newest first, optionally one status only."""
    query = select(MailLog).order_by(MailLog.created_at.desc(), MailLog.id.desc()).limit(limit)
    if status:
        query = query.where(MailLog.status == status)
    return list(session.scalars(query))
