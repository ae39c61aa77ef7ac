"""Facebook clients built from the settings, for blueprints and jobs alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app

from webapp.config import facebook_urls
from webapp.facebook.graph import GraphClient
from webapp.facebook.login import FacebookLogin
from webapp.helpdesk.kit import FacebookKit
from webapp.helpdesk.vault import Vault

CALLBACK_PATH = "/channels/facebook/callback"


def vault_for(app: Flask) -> Vault:
    """The token vault alone, for code that reads sealed tokens without calling Facebook."""
    return Vault(app.config["SECRET_KEY"])


def facebook_kit(app: Flask) -> FacebookKit:
    """Clients for the real Facebook, or for the built-in sandbox over HTTP."""
    config = app.config
    graph_url, dialog_url = facebook_urls(config)
    common = {
        "graph_url": graph_url,
        "version": config["FACEBOOK_API_VERSION"],
        "app_id": config["FACEBOOK_APP_ID"],
        "app_secret": config["FACEBOOK_APP_SECRET"],
    }
    return FacebookKit(
        graph=GraphClient(**common, timeout=float(config["FACEBOOK_HTTP_TIMEOUT"])),
        login=FacebookLogin(
            dialog_url=dialog_url,
            redirect_uri=config["BASE_URL"].rstrip("/") + CALLBACK_PATH,
            **common,
        ),
        vault=vault_for(app),
    )


@contextmanager
def opened_kit() -> Iterator[FacebookKit]:
    """The current app's Facebook clients for one request, closed afterwards."""
    facebook = facebook_kit(current_app)
    try:
        yield facebook
    finally:
        facebook.close()
