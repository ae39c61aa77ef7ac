"""Signing in and out."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from webapp.blueprints.auth.forms import LoginForm, LogoutForm
from webapp.extensions import db
from webapp.helpdesk import accounts
from webapp.web import public, render, safe_next

bp = Blueprint("auth", __name__)


def throttle_policy() -> accounts.ThrottlePolicy:
    config = current_app.config
    return accounts.ThrottlePolicy(
        per_account=config["LOGIN_MAX_FAILURES_PER_ACCOUNT"],
        per_address=config["LOGIN_MAX_FAILURES_PER_ADDRESS"],
        lockout=timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"]),
    )


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str:
    """Sign in with email and password."""
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return render("auth/login.html", form=form)
    try:
        user = accounts.authenticate(
            db.session,
            email=form.email.data or "",
            password=form.password.data or "",
            address=request.remote_addr or "unknown",
            policy=throttle_policy(),
        )
    except accounts.SignInThrottledError as error:
        form.form_errors.append(str(error))
        return render("auth/login.html", form=form, status=429)
    except accounts.InvalidCredentialsError as error:
        form.form_errors.append(str(error))
        return render("auth/login.html", form=form, status=401)
    # A fresh session for the signed-in person: nothing from before sign-in
    # (CSRF token included) carries over.
    session.clear()
    login_user(user)
    return redirect(safe_next(request.args.get("next"), url_for("inbox.index")))


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response | str:
    """Sign out (GET asks to confirm, POST does it)."""
    form = LogoutForm()
    if not form.validate_on_submit():
        return render("auth/logout.html", form=form)
    logout_user()
    session.clear()
    flash("You're signed out.", "info")
    return redirect(url_for("auth.login"))
