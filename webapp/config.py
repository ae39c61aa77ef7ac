"""Settings: defaults, then ``instance/config.py``, then the environment."""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Every setting an operator may give, with its default. The README documents each one.
DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": "",
    "DATABASE_URL": "",  # empty: SQLite in instance/pagedesk.db
    "BASE_URL": "http://127.0.0.1:5000",
    "FACEBOOK_APP_ID": "",
    "FACEBOOK_APP_SECRET": "",
    "FACEBOOK_VERIFY_TOKEN": "",
    "FACEBOOK_GRAPH_URL": "https://graph.facebook.com",
    "FACEBOOK_DIALOG_URL": "https://www.facebook.com",
    "FACEBOOK_API_VERSION": "v25.0",
    "FACEBOOK_SANDBOX": False,
    "MAIL_SERVER": "",
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": "",
    "MAIL_PASSWORD": "",
    "MAIL_DEFAULT_SENDER": "Pagedesk <pagedesk@localhost>",
    "TOKEN_REMINDER_DAYS": (14, 7, 1),
    "SCHEDULER": "embedded",
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 20,
    "LOGIN_LOCKOUT_MINUTES": 15,
    "TRUSTED_PROXIES": 0,
    "WEBHOOK_WORKER": True,
    "FACEBOOK_HTTP_TIMEOUT": 10.0,
}

_TRUE = {"1", "true", "yes", "on"}


def coerce(default: Any, raw: str) -> Any:
    """Turn an environment string into the type of the setting's default."""
    if isinstance(default, bool):
        return raw.strip().lower() in _TRUE
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, tuple):
        return tuple(int(part) for part in raw.split(",") if part.strip())
    return raw


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the environment overrides, typed like their defaults."""
    return {
        key: coerce(default, environ[key]) for key, default in DEFAULTS.items() if key in environ
    }


SANDBOX_APP_ID = "900000000000001"


def sandbox_defaults(config: dict[str, Any]) -> None:
    """Working Facebook settings for the built-in sandbox.

    The secret and verify token derive from ``SECRET_KEY``: nothing guessable
    even in a demo, and stable across restarts.
    """
    config["FACEBOOK_APP_ID"] = config["FACEBOOK_APP_ID"] or SANDBOX_APP_ID
    for name, purpose in (
        ("FACEBOOK_APP_SECRET", b"facebook-sandbox-app-secret"),
        ("FACEBOOK_VERIFY_TOKEN", b"facebook-sandbox-verify-token"),
    ):
        if not config[name]:
            config[name] = hmac.new(config["SECRET_KEY"].encode(), purpose, "sha256").hexdigest()


def facebook_urls(config: Mapping[str, Any]) -> tuple[str, str]:
    """The Graph API and Login dialog base URLs; the sandbox's own under ``BASE_URL``.

    Read at call time: tests move ``BASE_URL`` to the port their server got.
    """
    if config["FACEBOOK_SANDBOX"]:
        base = config["BASE_URL"].rstrip("/") + "/sandbox/facebook"
        return f"{base}/graph", f"{base}/www"
    return config["FACEBOOK_GRAPH_URL"], config["FACEBOOK_DIALOG_URL"]


def database_uri(url: str, instance_path: str) -> str:
    """The SQLAlchemy URI for ``DATABASE_URL``; PostgreSQL goes through psycopg 3."""
    if not url:
        return f"sqlite:///{Path(instance_path) / 'pagedesk.db'}"
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def persistent_secret_key(instance_path: str) -> str:
    """Read ``instance/secret_key``, creating it on first start.

    ``O_EXCL`` makes the first of several starting workers the only writer; the
    others read what it wrote.
    """
    path = Path(instance_path) / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        key = secrets.token_urlsafe(48)
        file.write(key)
    return key
