"""Error pages in plain words; HTMX requests get a short text the page can show."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webapp.helpdesk.errors import NotFoundError

bp = Blueprint("errors", __name__)

MESSAGES = {
    400: ("That request didn't make sense", "Go back and try again."),
    403: ("You don't have access to this page", "Ask an admin if you need it."),
    404: ("Page not found", "The link may be old, or the thing it pointed to was deleted."),
    405: ("That can't be done here", "Use the buttons on the page instead of typing the address."),
    429: ("Slow down a little", "Too many requests. Wait a moment and try again."),
}


@bp.app_errorhandler(CSRFError)
def csrf_error(error: CSRFError) -> tuple[str, int]:
    """The form was missing its security token or it had expired."""
    hint = "Reload the page and try again. Nothing was changed."
    return page(400, "Your form expired", hint), 400


@bp.app_errorhandler(NotFoundError)
def not_found(error: NotFoundError) -> tuple[str, int]:
    """A service looked for something that is gone."""
    return page(404, "Not found", str(error)), 404


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[str, int]:
    """Any other HTTP error, with a sentence a person can act on."""
    code = error.code or 500
    title, hint = MESSAGES.get(code, (error.name, "Try again in a moment."))
    return page(code, title, hint), code


def page(code: int, title: str, hint: str) -> str:
    """The error page, or for HTMX one sentence that app.js shows in the flash area."""
    if request.htmx:
        return f"{title}. {hint}"
    return render_template("errors/error.html", code=code, title=title, hint=hint)
