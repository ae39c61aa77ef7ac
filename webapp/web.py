"""What every blueprint shares: sign-in gate, role check, page-or-fragment rendering."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from jinja2_fragments.flask import render_block, render_blocks

F = TypeVar("F", bound=Callable[..., Any])


def public(view: F) -> F:
    """Let this view be reached without signing in (every other view needs a sign-in)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def without_transaction(view: F) -> F:
    """Run this GET view in autocommit on PostgreSQL: reads need no transaction.

    Under READ COMMITTED every statement takes its own snapshot anyway, so a page of
    reads sees the same data either way, without the BEGIN and ROLLBACK round trips
    (a third of a poll's). Only for views that read, or write in a single statement: a
    commit ends it, and what the request does after that runs in a transaction again.
    """
    view.without_transaction = True  # type: ignore[attr-defined]
    return view


def login_page_response() -> Response:
    """Send the visitor to the login page; an HTMX request is told to go there itself."""
    target = url_for("auth.login", next=request.full_path.rstrip("?"))
    if request.htmx:
        # A login form swapped into a table row helps nobody: have htmx navigate.
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def require_admin() -> None:
    """403 for anyone but an admin (use as a blueprint's ``before_request``)."""
    if not current_user.is_admin:
        abort(403)


def safe_next(target: str | None, default: str) -> str:
    """A post-login destination on this site, never another one."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def fragment(template: str, *blocks: str, oob: Sequence[str] = (), **context: Any) -> str:
    """The named blocks of a template, then its out-of-band blocks and the flash messages.

    Out-of-band pieces travel inside ``<template>``: a response that starts with
    a table row is parsed in table context, where a bare ``<form>`` or ``<div>``
    would be torn apart.
    """
    html = render_blocks(template, list(blocks), **context) if blocks else ""
    extras = [render_block(template, name, **context) for name in oob]
    extras.append(render_block("base.html", "flashes"))
    return html + "".join(f"<template>{extra}</template>" for extra in extras)


def render(
    template: str, *blocks: str, oob: Sequence[str] = (), status: int = 200, **context: Any
) -> Response:
    """The whole page, or for an HTMX request only the named blocks of the same template.

    Fragments carry the flash messages along, so feedback shows up the same way
    with or without JavaScript.
    """
    if request.htmx and (blocks or oob):
        return make_response(fragment(template, *blocks, oob=oob, **context), status)
    return make_response(render_template(template, **context), status)


def render_change(
    template: str,
    *blocks: str,
    redirect_to: str,
    oob: Sequence[str] = (),
    status: int = 200,
    **context: Any,
) -> Response:
    """After a change: the changed blocks for HTMX, else back to the page (post/redirect/get).

    With no blocks, an HTMX caller gets only the flash messages: its target is
    swapped with nothing, which is how a deleted row disappears.
    """
    if request.htmx:
        return make_response(fragment(template, *blocks, oob=oob, **context), status)
    return redirect(redirect_to)


def safe_link(url: str | None) -> str | None:
    """A link a customer sent, fit for ``href``: ``https:``, or this server's own, or none.

    Anything else (``javascript:``, ``data:``, plain ``http:`` elsewhere) is dropped, so a
    crafted attachment URL can't run script or lead an agent off to an unencrypted page.
    """
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() == "https" and parts.netloc:
        return url
    own = urlsplit(current_app.config["BASE_URL"])
    same_server = (parts.scheme.lower(), parts.netloc.lower()) == (own.scheme, own.netloc.lower())
    return url if same_server and parts.netloc else None
