"""The Channels section (admins only): Facebook pages and chat channels."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, url_for
from werkzeug.wrappers import Response

from webapp.blueprints.channels.forms import ChatChannelForm
from webapp.extensions import db
from webapp.helpdesk import channels, chats
from webapp.helpdesk.errors import DomainError
from webapp.models import ChatChannel
from webapp.web import render, render_change, require_admin

bp = Blueprint("channels", __name__, url_prefix="/channels")
bp.before_request(require_admin)


def warn_days() -> int:
    """Pages whose key lapses within the first reminder threshold show as expiring."""
    return max(current_app.config["TOKEN_REMINDER_DAYS"], default=14)


def channels_page(form: ChatChannelForm, *, refused: bool = False) -> Response:
    """The Channels page; after a refused add, HTMX gets just the form with its errors."""
    views = [
        channels.describe(page, warn_days=warn_days())
        for page in channels.list_page_channels(db.session)
    ]
    return render(
        "channels/index.html",
        oob=["new_chat_form"] if refused else [],
        status=422 if refused else 200,
        pages=views,
        chats=chats.list_chat_channels(db.session),
        form=form,
    )


def changed_row(chat: ChatChannel, *, status: int = 200) -> Response:
    return render_change(
        "channels/index.html",
        "chat_row",
        redirect_to=url_for("channels.index"),
        status=status,
        chat=chat,
    )


@bp.get("")
def index() -> Response:
    """Connected Facebook pages and the helpdesk's chat channels."""
    return channels_page(ChatChannelForm(formdata=None))


@bp.get("/new")
def new() -> Response:
    """Choose what kind of channel to add."""
    return render("channels/new.html", form=ChatChannelForm(formdata=None))


@bp.post("/chats")
def create_chat() -> Response:
    """Add a chat channel."""
    form = ChatChannelForm()
    if form.validate_on_submit():
        try:
            chat = chats.create_chat_channel(db.session, name=form.name.data or "")
        except DomainError as error:
            form.name.errors = [str(error)]
        else:
            flash(f"Chat channel “{chat.name}” added.", "success")
            return render_change(
                "channels/index.html",
                "chat_row",
                oob=["new_chat_form"],
                redirect_to=url_for("channels.index"),
                chat=chat,
                form=ChatChannelForm(formdata=None),
            )
    return channels_page(form, refused=True)


@bp.post("/chats/<int:chat_id>")
def update_chat(chat_id: int) -> Response:
    """Rename a chat channel."""
    form = ChatChannelForm()
    chat = chats.get_chat_channel(db.session, chat_id)
    if not form.validate_on_submit():
        flash("Give the chat channel a name (up to 80 characters).", "error")
        return changed_row(chat, status=422)
    try:
        chat = chats.rename_chat_channel(db.session, chat_id=chat_id, name=form.name.data or "")
    except DomainError as error:
        flash(str(error), "error")
        return changed_row(chat, status=409)
    flash(f"Renamed to “{chat.name}”.", "success")
    return changed_row(chat)


@bp.post("/chats/<int:chat_id>/delete")
def delete_chat(chat_id: int) -> Response:
    """Delete a chat channel that nothing routes to."""
    try:
        chat = chats.delete_chat_channel(db.session, chat_id=chat_id)
    except chats.ChatChannelInUseError as error:
        flash(str(error), "error")
        return changed_row(chats.get_chat_channel(db.session, chat_id), status=409)
    flash(f"Chat channel “{chat.name}” deleted.", "success")
    # For HTMX the row is replaced by nothing: only the flash message remains.
    return render_change("channels/index.html", redirect_to=url_for("channels.index"), chat=chat)
