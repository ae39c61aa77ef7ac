"""The agents' inbox: the ticket list, a ticket's card, and the chat queues."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from flask import Blueprint, abort, make_response, redirect, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from webapp.blueprints.inbox.forms import (
    KIND_LABELS,
    AssignForm,
    MoveForm,
    NoteForm,
    PrivateReplyForm,
    ReplyForm,
    StatusForm,
)
from webapp.extensions import db
from webapp.facebook import policy
from webapp.helpdesk import accounts, channels, chats, conversations, replies, tickets
from webapp.models import Conversation, Mode, Source, Upload, utcnow
from webapp.web import render, without_transaction

bp = Blueprint("inbox", __name__)
# Shown in the page; anything else (an SVG or HTML file included) is only downloaded.
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def no_change() -> Response:
    """HTMX's "nothing new": 204 is configured not to swap (base.html's htmx-config)."""
    return make_response("", 204)


def filters_from(args: MultiDict[str, str], chat_id: int | None = None) -> conversations.Filters:
    """The list's filters from the query string; anything unknown falls back to the default."""

    def pick(name: str, allowed: tuple[str, ...], default: str) -> str:
        value = args.get(name, default)
        return value if value in allowed else default

    return conversations.Filters(
        status=pick("status", conversations.STATUSES, "open"),
        who=pick("who", conversations.WHO, "all"),
        channel_id=args.get("page_id", type=int),
        source=pick("source", ("messenger", "comment", ""), "") or None,
        q=args.get("q", "")[:200],
        sort=pick("sort", conversations.SORTS, "activity"),
        page=max(args.get("p", 1, type=int) or 1, 1),
        chat_id=chat_id,
    )


@bp.route("/")
def home() -> Response:
    """The inbox is home."""
    return redirect(url_for("inbox.index"))


@bp.get("/inbox")
@without_transaction
def index() -> Response:
    """Tickets with filters, counts, search and paging; polled for changes."""
    marker = conversations.marker(db.session)
    if request.htmx and request.args.get("since") == marker:
        return no_change()
    filters = filters_from(request.args)
    return render(
        "inbox/index.html", "list",
        listing=conversations.listing(db.session, filters, user_id=current_user.id),
        marker=marker, pages=channels.list_page_channels(db.session),
        chats=chats.list_chat_channels(db.session), unread=conversations.unread_by_chat(db.session),
    )  # fmt: skip


@bp.get("/chats/<int:chat_id>")
@without_transaction
def chat(chat_id: int) -> Response:
    """A chat channel's live queue, and the chosen conversation's pane."""
    queue = chats.get_chat_channel(db.session, chat_id)
    marker = conversations.marker(db.session)
    if request.htmx and request.args.get("since") == marker:
        return no_change()
    filters = filters_from(MultiDict({"status": "open"}), chat_id=chat_id)
    listing = conversations.listing(db.session, filters, user_id=current_user.id)
    selected = request.args.get("c", type=int)
    context = card_context(selected) if selected else {}
    if selected and context["conversation"].chat_channel_id != chat_id:
        return redirect(url_for("inbox.show", conversation_id=selected))
    return render(
        "inbox/chat.html", "queue", listing=listing, marker=marker, queue=queue,
        chats=chats.list_chat_channels(db.session), unread=conversations.unread_by_chat(db.session),
        **context,
    )  # fmt: skip


def whole_thread() -> bool:
    """Whether the card shows every message (?thread=all), on its HTMX requests too."""
    if request.args.get("thread") == "all":
        return True
    page = urlsplit(request.headers.get("HX-Current-URL", ""))
    return "all" in parse_qs(page.query).get("thread", [])


def card_context(
    conversation_id: int, *, only_composer: bool = False, **forms: Any
) -> dict[str, Any]:
    """Everything a conversation's card shows, with fresh forms unless given.

    ``only_composer``: what an answer to a reply renders (the composer, the window and
    the new messages), without the thread and the sidebar's forms.
    """
    conversation = conversations.card(db.session, conversation_id) or abort(404)
    now = utcnow()
    rules = channels.messaging_rules(conversation.channel)
    options = policy.reply_options(conversation.last_customer_message_at, now, rules)
    allowed = [option for option in options if option.allowed]
    reply_form = forms.pop("reply_form", None) or ReplyForm(
        formdata=None, kind=(allowed[0].kind.value if allowed else "standard"),
        client_key=secrets.token_urlsafe(24),
    )  # fmt: skip
    context = {
        "conversation": conversation,
        "window": policy.reply_window(conversation.last_customer_message_at, now),
        "options": options,
        "kind_labels": KIND_LABELS,
        "can_reply": conversation.source is Source.COMMENT or bool(allowed),
        "reply_form": reply_form,
        "note_form": forms.pop("note_form", None) or NoteForm(formdata=None),
        "private_form": PrivateReplyForm(formdata=None, client_key=secrets.token_urlsafe(24)),
        "now": now,
    }
    if only_composer:
        return {**context, "private_ok": {}, **forms}
    thread = conversations.thread(db.session, conversation_id, whole=whole_thread())
    return {
        **context,
        "status_form": StatusForm(formdata=None, status=conversation.status.value),
        "assign_form": _assign_form(conversation),
        "move_form": _move_form(conversation),
        "thread": thread,
        "private_ok": replies.private_reply_allowed(db.session, conversation, thread.messages, now)
        if conversation.source is Source.COMMENT
        else {},
        "conversation_marker": conversations.conversation_marker(db.session, conversation.id),
        **forms,
    }


def _assign_form(conversation: Conversation) -> AssignForm:
    form = AssignForm(formdata=None, assignee_id=str(conversation.assignee_id or ""))
    people = accounts.list_users(db.session)
    form.assignee_id.choices = [SelectChoice("", "Nobody")] + [
        SelectChoice(str(u.id), u.name) for u in people if u.active
    ]
    return form


def _move_form(conversation: Conversation) -> MoveForm:
    current = str(conversation.chat_channel_id) if conversation.mode is Mode.CHAT else ""
    form = MoveForm(formdata=None, chat_id=current)
    form.chat_id.choices = [SelectChoice("", "Ticket")] + [
        SelectChoice(str(c.id), f"Chat: {c.name}") for c in chats.list_chat_channels(db.session)
    ]
    return form


@bp.get("/inbox/<int:conversation_id>")
@without_transaction
def show(conversation_id: int) -> Response:
    """A ticket's card: the whole conversation, the composer, status and assignment."""
    marker = conversations.conversation_marker(db.session, conversation_id)
    if request.htmx and request.args.get("since") == marker:
        return no_change()
    tickets.mark_seen(db.session, conversation_id=conversation_id)
    context = card_context(conversation_id)
    if request.htmx and request.args.get("since"):
        return render("inbox/show.html", "thread", oob=["window_state"], **context)
    return render("inbox/show.html", **context)


@bp.get("/inbox/files/<int:upload_id>")
@without_transaction
def upload(upload_id: int) -> Response:
    """A file an agent attached; images inline, anything else as a download."""
    file = db.session.get(Upload, upload_id) or abort(404)
    inline = file.mimetype in INLINE_TYPES
    response = make_response(file.data)
    response.mimetype = file.mimetype if inline else "application/octet-stream"
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(file.name)}"
    return response
