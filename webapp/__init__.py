"""Pagedesk: a self-hosted helpdesk for Facebook Pages."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from flask_login import current_user
from sqlalchemy import event
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp import config as settings
from webapp import sqlite_writes
from webapp.extensions import csrf, db, htmx, login_manager, mail, migrate

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: https:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def create_app(
    test_config: Mapping[str, Any] | None = None, *, instance_path: str | None = None
) -> Flask:
    """Create and configure the app: settings, extensions, blueprints, commands."""
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    configure(app, test_config)
    # httpx logs each request's full URL at INFO, and /debug_token's URL holds
    # the token under inspection: Pagedesk never logs a token.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if proxies := app.config["TRUSTED_PROXIES"]:
        # Behind nginx or a load balancer every request comes from the proxy:
        # take the client's address from X-Forwarded-For, or throttling would
        # count every person's failed sign-ins as one address's.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)

    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", _tune_sqlite)
    migrate.init_app(app, db)
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    mail.init_app(app)

    register_blueprints(app)
    register_hooks(app)
    if app.config["WEBHOOK_WORKER"]:
        from webapp.worker import WebhookWorker

        worker = WebhookWorker(app)
        app.extensions["webhook_worker"] = worker
        # Started by the first request, in the serving process (never before a fork).
        app.before_request(worker.ensure_started)
    if app.config["SCHEDULER"] == "embedded":
        from webapp import jobs

        jobs.embed(app)  # started by the first request too, once per process

    from webapp import cli

    cli.init_app(app)
    return app


def configure(app: Flask, test_config: Mapping[str, Any] | None) -> None:
    """Defaults, then ``instance/config.py``, then the environment, then the tests'."""
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(settings.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(settings.from_environment(os.environ))
    if test_config is not None:
        app.config.update(test_config)

    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = settings.persistent_secret_key(app.instance_path)
    app.config["FACEBOOK_SANDBOX"] = bool(
        app.config["FACEBOOK_SANDBOX"] or not app.config["FACEBOOK_APP_ID"]
    )
    if app.config["FACEBOOK_SANDBOX"]:
        settings.sandbox_defaults(app.config)
    app.config.setdefault(
        "SQLALCHEMY_DATABASE_URI",
        settings.database_uri(app.config["DATABASE_URL"], app.instance_path),
    )
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Writers queue on a lock file, not in SQLite's sleeping busy handler.
        options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
        options.setdefault("connect_args", {})["factory"] = sqlite_writes.Connection
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["BASE_URL"].startswith("https://"),
        # The CSRF token lives as long as the sign-in: agents keep the inbox open all day.
        WTF_CSRF_TIME_LIMIT=None,
    )


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers work while one writer commits; the busy timeout makes a
    # second writer wait its turn instead of failing with "database is locked".
    # A 16 MiB page cache (SQLite's default is 2), filled only as pages are read: a
    # search's few thousand matches then stay in memory instead of being read again.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(sqlite_writes.TIMEOUT * 1000)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-16384")
    cursor.close()


def register_blueprints(app: Flask) -> None:
    """Mount every feature's blueprint; the built-in Facebook only in sandbox mode."""
    from webapp.blueprints import auth, channels, errors, inbox, jobs, team, webhooks

    for module in (auth, channels, errors, inbox, jobs, team, webhooks):
        app.register_blueprint(module.bp)
    if app.config["FACEBOOK_SANDBOX"]:
        from webapp.blueprints import sandbox

        sandbox.init_app(app)


def register_hooks(app: Flask) -> None:
    """The sign-in gate and the security headers every response carries."""
    from webapp.helpdesk import accounts
    from webapp.web import login_page_response, safe_link

    app.jinja_env.filters["safe_link"] = safe_link

    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(token: str) -> Any:
        return accounts.user_for_session(db.session, token)

    login_manager.unauthorized_handler(login_page_response)

    @app.before_request
    def autocommit_reads() -> None:  # before the sign-in gate, whose user lookup is a read
        view = app.view_functions.get(request.endpoint or "")
        wanted = request.method == "GET" and getattr(view, "without_transaction", False)
        if wanted and db.session.get_bind().dialect.name == "postgresql":
            db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})

    @app.before_request
    def require_sign_in() -> Response | None:
        view = app.view_functions.get(request.endpoint or "")
        if view is None or request.endpoint == "static" or getattr(view, "is_public", False):
            return None
        if current_user.is_authenticated:
            return None
        return login_page_response()

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.vary.add("HX-Request")
        return response
