"""The agents' inbox."""

from flask import Blueprint, redirect, url_for
from werkzeug.wrappers import Response

from webapp.extensions import db
from webapp.helpdesk import conversations
from webapp.web import render

bp = Blueprint("inbox", __name__)


@bp.route("/")
def home() -> Response:
    """The inbox is home."""
    return redirect(url_for("inbox.index"))


@bp.route("/inbox")
def index() -> Response:
    """Conversations from every connected page, newest activity first."""
    return render("inbox/index.html", rows=conversations.recent(db.session))
