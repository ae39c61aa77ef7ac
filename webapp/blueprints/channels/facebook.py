"""Connecting Facebook pages: login, choosing pages, settings, disconnecting."""

from __future__ import annotations

import secrets

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from webapp.blueprints.channels.forms import MessagingRulesForm, RoutingForm
from webapp.blueprints.channels.routes import bp, warn_days
from webapp.extensions import db
from webapp.helpdesk import access, channels, chats, connect
from webapp.helpdesk.errors import DomainError
from webapp.integrations import opened_kit, vault_for
from webapp.models import Channel, ChannelStatus, utcnow
from webapp.web import render, render_change

STATE_KEY = "facebook_login_state"


@bp.get("/facebook")
def facebook_intro() -> Response:
    """What connecting a page takes, before anything happens."""
    return render("channels/facebook.html")


@bp.get("/facebook/connect")
def facebook_connect() -> Response:
    """Send the admin to Facebook Login, remembering a one-time ``state``."""
    state = secrets.token_urlsafe(32)
    session[STATE_KEY] = state
    with opened_kit() as facebook:
        return redirect(facebook.login.authorization_url(state))


@bp.get("/facebook/callback")
def facebook_callback() -> Response:
    """Facebook sends the admin back here with a code, or with why not."""
    expected = session.pop(STATE_KEY, None)
    state = request.args.get("state", "")
    if not expected or not secrets.compare_digest(state, expected):
        flash(
            "That Facebook login didn't start here, or was already used."
            " Nothing was connected: start again with “Continue with Facebook”.",
            "error",
        )
        return render("channels/facebook.html", status=400)
    if request.args.get("error"):
        flash("You cancelled on Facebook, so no page was connected.", "info")
        return redirect(url_for("channels.facebook_intro"))
    try:
        with opened_kit() as facebook:
            pending = connect.complete_login(
                db.session, kit=facebook, code=request.args.get("code", ""),
                admin_id=current_user.id,
            )  # fmt: skip
    except DomainError as error:
        flash(str(error), "error")
        return redirect(url_for("channels.facebook_intro"))
    return redirect(url_for("channels.facebook_pages", pending_id=pending.id))


def selection(
    pending_id: str, *blocks: str, status: int = 200, progress: list[str] | None = None
) -> Response:
    pending = connect.get_pending(db.session, pending_id=pending_id, admin_id=current_user.id)
    vault = vault_for(current_app)
    choices = connect.page_choices(db.session, pending=pending, vault=vault)
    picked = set(request.form.getlist("page_id"))
    names = {choice.id: choice.name for choice in choices}
    return render(
        "channels/facebook_pages.html", *blocks, status=status, pending=pending,
        choices=choices, picked=[c for c in choices if c.eligible and c.id in picked],
        progress=[(page_id, names.get(page_id, page_id)) for page_id in progress or ()],
    )  # fmt: skip


@bp.get("/facebook/pages/<pending_id>")
def facebook_pages(pending_id: str) -> Response:
    """Tick the pages to connect; ineligible ones say why they can't be."""
    try:
        return selection(pending_id)
    except connect.PendingExpiredError as error:
        flash(str(error), "error")
        return redirect(url_for("channels.facebook_intro"))


@bp.post("/facebook/pages/<pending_id>/preview")
def facebook_preview(pending_id: str) -> Response:
    """The confirm panel for the pages ticked so far (HTMX, on every tick)."""
    return selection(pending_id, "confirm_panel")


@bp.post("/facebook/pages/<pending_id>")
def facebook_confirm(pending_id: str) -> Response:
    """Connect the ticked pages and say, page by page, how it went.

    Over HTMX the answer is a progress list whose lines connect one page each;
    without JavaScript the pages are connected here, one after the other.
    """
    page_ids = request.form.getlist("page_id")
    if not page_ids:
        flash("Tick at least one page to connect.", "error")
        return redirect(url_for("channels.facebook_pages", pending_id=pending_id))
    if request.htmx:
        return selection(pending_id, "connect_area", progress=page_ids)
    try:
        with opened_kit() as facebook:
            outcomes = connect.connect_pages(
                db.session, kit=facebook, pending_id=pending_id, admin_id=current_user.id,
                page_ids=page_ids,
            )  # fmt: skip
    except connect.PendingExpiredError as error:
        flash(str(error), "error")
        return redirect(url_for("channels.facebook_intro"))
    done = [o.name for o in outcomes if o.connected]
    if done:
        flash(f"Connected: {', '.join(done)}.", "success")
    failed = [o for o in outcomes if not o.connected]
    if not failed:
        return redirect(url_for("channels.index"))
    return render("channels/facebook_result.html", outcomes=outcomes, status=200 if done else 422)


@bp.post("/facebook/pages/<pending_id>/connect/<page_id>")
def facebook_connect_page(pending_id: str, page_id: str) -> Response:
    """Connect one page: a line of the progress list, replaced by how it went."""
    try:
        with opened_kit() as facebook:
            [outcome] = connect.connect_pages(
                db.session, kit=facebook, pending_id=pending_id, admin_id=current_user.id,
                page_ids=[page_id],
            )  # fmt: skip
    except connect.PendingExpiredError as error:
        outcome = connect.PageOutcome(page_id, page_id, str(error))
    return render("channels/facebook_result.html", "outcome", outcome=outcome)


def routing_form(channel: Channel, *, submitted: bool = True) -> RoutingForm:
    """The routing form; ``submitted=False`` shows what is stored, whatever was posted."""
    form = RoutingForm(obj=channel) if submitted else RoutingForm(formdata=None, obj=channel)
    choices = [SelectChoice("", "Tickets")] + [
        SelectChoice(str(chat.id), chat.name) for chat in chats.list_chat_channels(db.session)
    ]
    form.messenger_chat_id.choices = form.comments_chat_id.choices = choices
    return form


def messaging_form(channel: Channel, *, submitted: bool = True) -> MessagingRulesForm:
    """The "Replying after 24 hours" form, the promotional words one per line."""
    stored = {
        "human_agent_enabled": channel.human_agent_enabled,
        "subscription_enabled": channel.subscription_enabled,
        "subscription_use": channel.subscription_use or "",
        "promotional_terms": "\n".join(channels.promotional_terms_for(channel)),
    }
    if submitted:
        return MessagingRulesForm(**stored)
    return MessagingRulesForm(formdata=None, **stored)


def settings_page(
    channel: Channel,
    *,
    routing: RoutingForm | None = None,
    messaging: MessagingRulesForm | None = None,
    status: int = 200,
) -> Response:
    """Both settings forms; the one not being saved shows what is stored."""
    return render(
        "channels/settings.html", status=status, channel=channel,
        form=routing or routing_form(channel, submitted=False),
        messaging=messaging or messaging_form(channel, submitted=False),
    )  # fmt: skip


@bp.route("/<int:channel_id>/settings", methods=["GET", "POST"])
def settings(channel_id: int) -> Response:
    """A page's settings; saving here sets where its Messenger messages and comments go."""
    channel = connect.get_channel(db.session, channel_id)
    form = routing_form(channel)
    if not form.validate_on_submit():
        return settings_page(channel, routing=form, status=422 if form.is_submitted() else 200)
    try:
        channels.update_routing(
            db.session, channel=channel,
            messenger_chat_id=form.messenger_chat_id.data or None,
            comments_chat_id=form.comments_chat_id.data or None,
        )  # fmt: skip
    except DomainError as error:
        flash(str(error), "error")
        return settings_page(channel, routing=form, status=422)
    flash(
        f"Saved where “{channel.name}” sends new conversations."
        " Conversations already open stay where they are.",
        "success",
    )
    return redirect(url_for("channels.index"))


@bp.post("/<int:channel_id>/settings/messaging")
def update_messaging(channel_id: int) -> Response:
    """Save how a page may reply after 24 hours and which words count as promotional."""
    channel = connect.get_channel(db.session, channel_id)
    form = messaging_form(channel)
    if form.validate_on_submit():
        try:
            channels.update_messaging_rules(
                db.session, channel=channel,
                human_agent_enabled=form.human_agent_enabled.data,
                subscription_enabled=form.subscription_enabled.data,
                subscription_use=form.subscription_use.data,
                promotional_terms=form.promotional_terms.data,
            )  # fmt: skip
        except DomainError as error:
            form.subscription_use.errors.append(str(error))
        else:
            flash(f"Saved how “{channel.name}” replies after 24 hours.", "success")
            return redirect(url_for("channels.settings", channel_id=channel.id))
    return settings_page(channel, messaging=form, status=422)


@bp.post("/<int:channel_id>/disconnect")
def disconnect(channel_id: int) -> Response:
    """Stop a page's webhooks and forget its keys; its conversations stay."""
    with opened_kit() as facebook:
        note = connect.disconnect_channel(db.session, kit=facebook, channel_id=channel_id)
    channel = connect.get_channel(db.session, channel_id)
    flash(f"“{channel.name}” is disconnected. Its conversations are kept.", "success")
    if note:
        flash(note, "info")
    view = channels.describe(channel, warn_days=warn_days())
    return render_change(
        "channels/index.html", "page_row", redirect_to=url_for("channels.index"), view=view
    )


@bp.post("/<int:channel_id>/check")
def check(channel_id: int) -> Response:
    """Check now: ask Facebook about this page's key, role and subscription at once."""
    channel = connect.get_channel(db.session, channel_id)
    if channel.status is ChannelStatus.DISCONNECTED:
        flash(f"“{channel.name}” is disconnected: connect it again to check it.", "info")
    else:
        with opened_kit() as facebook:
            line = access.check_channel(
                db.session, kit=facebook, channel_id=channel_id, now=utcnow()
            )
        flash(line, "success" if ": OK" in line else "info")
    view = channels.describe(connect.get_channel(db.session, channel_id), warn_days=warn_days())
    return render_change(
        "channels/index.html", "page_row", redirect_to=url_for("channels.index"), view=view
    )
