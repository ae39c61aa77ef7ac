"""The Team page: admins add people, change roles, deactivate, reset passwords."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.team.forms import MemberForm, PasswordForm, RoleForm
from webapp.extensions import db
from webapp.helpdesk import accounts
from webapp.helpdesk.errors import DomainError
from webapp.models import Role, User
from webapp.web import render, render_change, require_admin

bp = Blueprint("team", __name__, url_prefix="/team")
bp.before_request(require_admin)


def team_page(form: MemberForm, *, refused: bool = False) -> Response:
    """The Team page; after a refused add, HTMX gets just the form with its errors."""
    return render(
        "team/index.html",
        oob=["new_member_form"] if refused else [],
        status=422 if refused else 200,
        members=accounts.list_users(db.session),
        form=form,
    )


def changed_row(user: User, *, status: int = 200) -> Response:
    return render_change(
        "team/index.html",
        "member_row",
        redirect_to=url_for("team.index"),
        status=status,
        member=user,
    )


@bp.get("")
def index() -> Response:
    """Everyone on the team, and a form to add someone."""
    return team_page(MemberForm(formdata=None))


@bp.post("")
def create() -> Response:
    """Add a person with a role and an initial password."""
    form = MemberForm()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(
                db.session,
                email=form.email.data or "",
                name=form.name.data or "",
                role=Role(form.role.data),
                password=form.password.data or "",
            )
        except DomainError as error:
            form.form_errors.append(str(error))
        else:
            flash(f"{user.name} can now sign in as {user.role}.", "success")
            return render_change(
                "team/index.html",
                "member_row",
                oob=["new_member_form"],
                redirect_to=url_for("team.index"),
                member=user,
                form=MemberForm(formdata=None),
            )
    return team_page(form, refused=True)


def apply(user_id: int, change: str, action: Callable[[], User]) -> Response:
    """Run one row action; a refusal is flashed and the row shown unchanged."""
    try:
        user = action()
    except DomainError as error:
        flash(str(error), "error")
        return changed_row(accounts.get_user(db.session, user_id), status=409)
    flash(change.format(name=user.name), "success")
    return changed_row(user)


@bp.post("/<int:user_id>/role")
def update_role(user_id: int) -> Response:
    """Make someone an admin or an agent."""
    form = RoleForm()
    if not form.validate_on_submit():
        return changed_row(accounts.get_user(db.session, user_id), status=422)
    role = Role(form.role.data)
    return apply(
        user_id,
        f"{{name}} is now an {role}.",
        lambda: accounts.change_role(db.session, user_id=user_id, role=role),
    )


@bp.post("/<int:user_id>/deactivate")
def deactivate(user_id: int) -> Response:
    """Sign someone out everywhere and keep them out."""
    return apply(
        user_id,
        "{name} is deactivated and signed out.",
        lambda: accounts.set_active(
            db.session, user_id=user_id, active=False, acting_user_id=current_user.id
        ),
    )


@bp.post("/<int:user_id>/reactivate")
def reactivate(user_id: int) -> Response:
    """Let a deactivated person sign in again."""
    return apply(
        user_id,
        "{name} can sign in again.",
        lambda: accounts.set_active(
            db.session, user_id=user_id, active=True, acting_user_id=current_user.id
        ),
    )


@bp.post("/<int:user_id>/password")
def reset_password(user_id: int) -> Response:
    """Set a new password; the person's open sessions end."""
    form = PasswordForm()
    if not form.validate_on_submit():
        flash(" ".join(form.password.errors) or "Enter a new password.", "error")
        return changed_row(accounts.get_user(db.session, user_id), status=422)
    password = form.password.data or ""
    return apply(
        user_id,
        "{name} has a new password and was signed out everywhere.",
        lambda: accounts.reset_password(db.session, user_id=user_id, password=password),
    )
