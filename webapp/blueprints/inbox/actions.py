"""Changes from the inbox: replies, notes, status, assignment, chat or ticket, moderation."""

from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from webapp.blueprints.inbox.forms import (
    NoteForm,
    PrivateReplyForm,
    ReplyForm,
    StatusForm,
)
from webapp.blueprints.inbox.routes import bp, card_context
from webapp.extensions import db
from webapp.facebook import policy
from webapp.helpdesk import conversations, outbox, replies, tickets
from webapp.helpdesk.errors import DomainError
from webapp.integrations import opened_kit
from webapp.models import ConversationStatus, Message, utcnow
from webapp.web import render_change, safe_next


def send_now(ids: list[int]) -> None:
    """Try the queued replies right away; the retry-outbox job handles whatever is left."""
    with opened_kit() as facebook:
        for message_id in ids:
            outbox.deliver(db.session, message_id, kit=facebook, now=utcnow())


def back_to_card(conversation_id: int, *, status: int = 200, **forms: object) -> Response:
    """For HTMX the new composer, with the thread and the sidebar out of band; else the card."""
    card = url_for("inbox.show", conversation_id=conversation_id)
    return render_change(
        "inbox/show.html", "composer", oob=["thread", "window_state", "sidebar"],
        redirect_to=safe_next(request.form.get("back"), card),
        status=status, thread_oob=True, **card_context(conversation_id, **forms),
    )  # fmt: skip


def after_reply(conversation_id: int, ids: list[int]) -> Response:
    """For HTMX a fresh composer and only the new messages, appended to the thread."""
    context = card_context(conversation_id, only_composer=True)
    new = conversations.messages(db.session, ids)
    return render_change(
        "inbox/show.html", "composer", oob=["new_messages", "window_state"],
        redirect_to=url_for("inbox.show", conversation_id=conversation_id),
        new_messages=new, **context,
    )  # fmt: skip


def _draft(form: ReplyForm) -> replies.Draft:
    upload = form.attachment.data
    file = None
    if upload and getattr(upload, "filename", ""):
        file = replies.FilePart(
            upload.filename, upload.mimetype or "application/octet-stream", upload.read()
        )
    kind = form.kind.data if form.kind.data in set(policy.Kind) else policy.Kind.STANDARD.value
    return replies.Draft(
        text=form.text.data or "", kind=policy.Kind(kind), split=form.split.data,
        confirmed=form.confirmed.data, attachment_url=form.attachment_url.data or None,
        file=file, client_key=form.client_key.data or None,
    )  # fmt: skip


@bp.post("/inbox/<int:conversation_id>/reply")
def reply(conversation_id: int) -> Response:
    """Check and queue the reply, then send it; refusals come back in the composer."""
    form = ReplyForm()
    if not form.validate_on_submit():
        return back_to_card(conversation_id, status=422, reply_form=form)
    try:
        messages = replies.reply(
            db.session, conversation_id=conversation_id, author_id=current_user.id,
            draft=_draft(form),
        )  # fmt: skip
    except replies.TextTooLongError as error:
        form.text.errors = [str(error)]
        return back_to_card(conversation_id, status=422, reply_form=form, offer_split=True)
    except replies.ConfirmationNeededError as error:
        form.text.errors = [str(error)]
        return back_to_card(
            conversation_id, status=422, reply_form=form, ask_confirm=True, terms=error.terms
        )
    except DomainError as error:
        form.text.errors = [str(error)]
        return back_to_card(conversation_id, status=422, reply_form=form)
    ids = [message.id for message in messages]  # read once: each commit expires them
    send_now(ids)
    return after_reply(conversation_id, ids)


@bp.post("/inbox/comments/<int:message_id>/private-reply")
def private_reply(message_id: int) -> Response:
    """Reply privately on Messenger to a comment's author (once per comment)."""
    form = PrivateReplyForm()
    comment = db.session.get(Message, message_id)
    if comment is None:
        abort(404)
    conversation_id = comment.conversation_id
    if not form.validate_on_submit():
        return back_to_card(conversation_id, status=422)
    try:
        message = replies.reply_privately(
            db.session, comment_id=message_id, author_id=current_user.id,
            text=form.text.data or "", client_key=form.client_key.data or None,
        )  # fmt: skip
    except DomainError as error:
        flash(str(error), "error")
        return back_to_card(conversation_id, status=422)
    send_now([message.id])
    return back_to_card(conversation_id)


@bp.post("/inbox/messages/<int:message_id>/retry")
def retry(message_id: int) -> Response:
    """Send a failed reply again."""
    try:
        message = outbox.retry(db.session, message_id=message_id)
    except DomainError as error:
        flash(str(error), "error")
        abort(404)
    send_now([message.id])
    return back_to_card(message.conversation_id)


@bp.post("/inbox/comments/<int:message_id>/<any(hide, unhide, delete):action>")
def moderate(message_id: int, action: str) -> Response:
    """Hide, unhide or delete a customer's comment on Facebook."""
    comment = db.session.get(Message, message_id)
    if comment is None:
        abort(404)
    try:
        with opened_kit() as facebook:
            tickets.moderate(
                db.session, kit=facebook, message_id=message_id, action=action, actor=current_user
            )
    except DomainError as error:
        flash(str(error), "error")
        return back_to_card(comment.conversation_id, status=409)
    return back_to_card(comment.conversation_id)


@bp.post("/inbox/<int:conversation_id>/note")
def note(conversation_id: int) -> Response:
    """An internal note for the team: never sent to Facebook."""
    form = NoteForm()
    try:
        if not form.validate_on_submit():
            raise DomainError("The note is too long.")
        replies.add_note(
            db.session, conversation_id=conversation_id, author_id=current_user.id,
            text=form.text.data or "",
        )  # fmt: skip
    except DomainError as error:
        form.text.errors = [str(error)]
        return back_to_card(conversation_id, status=422, note_form=form)
    return back_to_card(conversation_id)


@bp.post("/inbox/<int:conversation_id>/status")
def status(conversation_id: int) -> Response:
    """Open, pending or closed."""
    form = StatusForm()
    if form.validate_on_submit():
        tickets.set_status(
            db.session, conversation_id=conversation_id,
            status=ConversationStatus(form.status.data), actor=current_user,
        )  # fmt: skip
    return back_to_card(conversation_id)


@bp.post("/inbox/<int:conversation_id>/assign")
def assign(conversation_id: int) -> Response:
    """Give the conversation to a teammate."""
    # CSRFProtect has checked the token; the service checks the person.
    raw = request.form.get("assignee_id", "")
    try:
        tickets.assign(
            db.session, conversation_id=conversation_id,
            assignee_id=int(raw) if raw.isdigit() else None, actor=current_user,
        )  # fmt: skip
    except DomainError as error:
        flash(str(error), "error")
        return back_to_card(conversation_id, status=409)
    return back_to_card(conversation_id)


@bp.post("/inbox/<int:conversation_id>/move")
def move(conversation_id: int) -> Response:
    """Handle it as a chat in a chat channel, or as a ticket."""
    raw = request.form.get("chat_id", "")
    try:
        tickets.move(
            db.session, conversation_id=conversation_id,
            chat_id=int(raw) if raw.isdigit() else None, actor=current_user,
        )  # fmt: skip
    except DomainError as error:
        flash(str(error), "error")
        return back_to_card(conversation_id, status=409)
    flash("Moved.", "success")
    return back_to_card(conversation_id)
