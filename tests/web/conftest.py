"""Fixtures for request tests that need a connected Facebook page."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.facebook import ACME_SUPPORT, connect_pages
from tests.helpers import WebClient
from tests.web.test_webhooks import rows
from webapp.models import Channel


@pytest.fixture
def connected(app: Flask, admin_web: WebClient, live_server: str) -> Channel:
    """Acme Support, connected through the real flow; Pagedesk reaches the sandbox over HTTP."""
    app.config["BASE_URL"] = live_server
    connect_pages(admin_web, ACME_SUPPORT)
    [channel] = rows(app, Channel)
    return channel
