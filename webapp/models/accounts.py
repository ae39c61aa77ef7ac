"""The support team: people, their roles, and sign-in attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.extensions import db
from webapp.models.base import enum_type, new_session_token, utcnow


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"


class User(UserMixin, db.Model):
    """A person on the support team."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_type(Role), default=Role.AGENT)
    active: Mapped[bool] = mapped_column(default=True)
    # Flask-Login keeps this token in the session instead of the id: rotating it
    # (deactivation, password reset) signs the person out everywhere at once.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return self.session_token


class LoginAttempt(db.Model):
    """One sign-in try, kept for a day to throttle guessing across all app processes."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    succeeded: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
