"""Running Pagedesk itself: scheduled job runs, notices to admins, the mail log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import enum_type, utcnow


class JobRun(db.Model):
    """One run of a scheduled job; (name, tick) is unique, so a tick runs once however many
    schedulers there are."""

    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("name", "tick"),
        Index("ix_job_runs_latest", "name", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    tick: Mapped[datetime]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # running, ok, failed, skipped (another run of the same job still held its lease)
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    summary: Mapped[str | None] = mapped_column(Text)
    manual: Mapped[bool] = mapped_column(default=False)


class JobLock(db.Model):
    """Who runs a job right now, until when: taken in one UPDATE, so across processes too."""

    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[int | None]
    lease_until: Mapped[datetime | None]


class Notice(db.Model):
    """A reminder or an access-lost warning owed to the admins: unique per channel, kind
    and episode (the connection), so it is never sent twice."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("channel_id", "kind", "episode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    kind: Mapped[str] = mapped_column(String(40))  # "expiry:14", "expiry:7", "lost"
    episode: Mapped[str] = mapped_column(String(64))  # the connection's connected_at
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    mailed_at: Mapped[datetime | None]  # None: its emails are still to be written


class MailStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # with next_attempt_at: tried again later; without: given up
    LOGGED = "logged"  # no MAIL_SERVER: written to this log and the console only


class MailLog(db.Model):
    """Every email Pagedesk sent or tried, with its status."""

    __tablename__ = "mail_log"
    __table_args__ = (Index("ix_mail_log_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str | None] = mapped_column(Text)
    status: Mapped[MailStatus] = mapped_column(enum_type(MailStatus), default=MailStatus.QUEUED)
    error: Mapped[str | None] = mapped_column(String(1000))
    tries: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
