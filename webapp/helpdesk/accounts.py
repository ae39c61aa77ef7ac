"""The team: signing in (with throttling), adding people, roles and access."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.helpdesk.errors import DomainError, NotFoundError
from webapp.models import LoginAttempt, Role, User, new_session_token, utcnow

MIN_PASSWORD_LENGTH = 10
# Kept long enough for any lockout window, short enough to stay small.
ATTEMPT_RETENTION = timedelta(days=1)


class InvalidCredentialsError(DomainError):
    def __init__(self) -> None:
        super().__init__("That email and password don't match an active account.")


class SignInThrottledError(DomainError):
    def __init__(self, minutes: int) -> None:
        super().__init__(
            f"Too many failed sign-ins. Wait {minutes} minutes, then try again,"
            " or ask an admin to reset your password."
        )


class DuplicateEmailError(DomainError):
    def __init__(self, email: str) -> None:
        super().__init__(f"Someone on the team already uses {email}.")


class WeakPasswordError(DomainError):
    pass


class LastAdminError(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "This is the last active admin. Make someone else an admin first,"
            " so the team keeps someone who can manage it."
        )


class SelfDeactivationError(DomainError):
    def __init__(self) -> None:
        super().__init__("You can't deactivate your own account.")


@dataclass(frozen=True)
class ThrottlePolicy:
    """How many failures, from one address or for one account, lock sign-in for a while."""

    per_account: int = 5
    per_address: int = 20
    lockout: timedelta = timedelta(minutes=15)


def normalize_email(email: str) -> str:
    """Emails are compared without case or surrounding spaces."""
    return email.strip().lower()


def check_password_strength(password: str, *, email: str = "") -> None:
    """Raise :class:`WeakPasswordError` for a password too easy to guess."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if len(set(password)) < 4:
        raise WeakPasswordError("The password repeats too few characters; pick something longer.")
    name = normalize_email(email).split("@")[0]
    if len(name) >= 4 and name in password.lower():
        raise WeakPasswordError("The password must not contain the email address.")


def _recent_failures(session: Session, column: object, value: str, since: datetime) -> int:
    query = select(func.count(LoginAttempt.id)).where(
        column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at > since
    )
    return session.scalar(query) or 0


def authenticate(
    session: Session,
    *,
    email: str,
    password: str,
    address: str,
    policy: ThrottlePolicy,
    now: datetime | None = None,
) -> User:
    """Return the active user with this email and password, recording the attempt.

    Throttling counts failures in the database, so it holds across every app
    process. While locked, even the right password is refused: otherwise the
    lock would only slow a guesser down.
    """
    now = now or utcnow()
    email = normalize_email(email)
    since = now - policy.lockout
    if (
        _recent_failures(session, LoginAttempt.email, email, since) >= policy.per_account
        or _recent_failures(session, LoginAttempt.address, address, since) >= policy.per_address
    ):
        raise SignInThrottledError(int(policy.lockout.total_seconds() // 60))

    user = session.scalar(select(User).where(User.email == email))
    succeeded = (
        user is not None and user.active and check_password_hash(user.password_hash, password)
    )
    session.execute(delete(LoginAttempt).where(LoginAttempt.created_at < now - ATTEMPT_RETENTION))
    session.add(LoginAttempt(email=email, address=address, succeeded=succeeded, created_at=now))
    session.commit()
    if not succeeded:
        raise InvalidCredentialsError()
    assert user is not None  # noqa: S101 (narrowing for the type checker)
    return user


# Built once, not per call: every request runs it, each 3-second poll included.
_SIGNED_IN = select(User).where(User.session_token == bindparam("token"), User.active)


def user_for_session(session: Session, token: str) -> User | None:
    """The active user a sign-in session belongs to, if it is still valid."""
    return session.scalar(_SIGNED_IN, {"token": token})


def list_users(session: Session) -> list[User]:
    """Everyone on the team, admins first, then by name."""
    return list(session.scalars(select(User).order_by(User.role, func.lower(User.name))))


def get_user(session: Session, user_id: int) -> User:
    """The user with this id, or :class:`NotFoundError`."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("That person is no longer on the team.")
    return user


def create_user(session: Session, *, email: str, name: str, role: Role, password: str) -> User:
    """Add a person to the team."""
    email = normalize_email(email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise DuplicateEmailError(email)
    check_password_strength(password, email=email)
    user = User(
        email=email,
        name=name.strip() or email.split("@")[0],
        role=role,
        password_hash=generate_password_hash(password),
    )
    session.add(user)
    session.commit()
    return user


def _other_active_admins(session: Session, user: User) -> int:
    query = select(func.count(User.id)).where(
        User.role == Role.ADMIN, User.active.is_(True), User.id != user.id
    )
    return session.scalar(query) or 0


def change_role(session: Session, *, user_id: int, role: Role) -> User:
    """Make someone an admin or an agent; the last active admin stays an admin."""
    user = get_user(session, user_id)
    demoting = user.role is Role.ADMIN and role is not Role.ADMIN and user.active
    if demoting and _other_active_admins(session, user) == 0:
        raise LastAdminError()
    user.role = role
    session.commit()
    return user


def set_active(session: Session, *, user_id: int, active: bool, acting_user_id: int) -> User:
    """Deactivate (signing them out everywhere) or reactivate a person."""
    user = get_user(session, user_id)
    if not active:
        if user.id == acting_user_id:
            raise SelfDeactivationError()
        if user.role is Role.ADMIN and _other_active_admins(session, user) == 0:
            raise LastAdminError()
        user.session_token = new_session_token()
    user.active = active
    session.commit()
    return user


def reset_password(session: Session, *, user_id: int, password: str) -> User:
    """Give someone a new password; their existing sign-ins end."""
    user = get_user(session, user_id)
    check_password_strength(password, email=user.email)
    user.password_hash = generate_password_hash(password)
    user.session_token = new_session_token()
    session.commit()
    return user
