"""The sandbox's knobs page, and the sandbox's absence when a real Facebook app is set."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from tests.facebook import ACME_SUPPORT, MIA
from tests.helpers import WebClient


def test_admins_turn_knobs(app: Flask, admin_web: WebClient) -> None:
    page = admin_web.get("/sandbox/facebook/")
    assert page.status_code == 200
    assert "Acme Support" in page.text
    assert "Mia Manager" in page.text
    sandbox = app.extensions["facebook_sandbox"]

    admin_web.post("/sandbox/facebook/knobs/unpublish", {"page_id": ACME_SUPPORT})
    assert sandbox.snapshot()["pages"][ACME_SUPPORT]["is_published"] is False
    admin_web.post(
        "/sandbox/facebook/knobs/revoke-manage", {"user_id": MIA, "page_id": ACME_SUPPORT}
    )
    assert "MANAGE" not in sandbox.snapshot()["pages"][ACME_SUPPORT]["roles"][MIA]
    admin_web.post("/sandbox/facebook/knobs/add-page", {"user_id": MIA, "name": "Mia's <New> Page"})
    assert "Mia&#39;s &lt;New&gt; Page" in admin_web.get("/sandbox/facebook/").text
    before = sandbox.now()
    admin_web.post("/sandbox/facebook/knobs/data-access", {"user_id": MIA, "days": "2"})
    admin_web.post("/sandbox/facebook/knobs/change-password", {"user_id": MIA})
    assert sandbox.snapshot()["users"][MIA]["password_changed_at"] >= before


def test_agents_cannot_turn_knobs(agent_web: WebClient) -> None:
    assert agent_web.get("/sandbox/facebook/").status_code == 403
    assert (
        agent_web.post("/sandbox/facebook/knobs/unpublish", {"page_id": ACME_SUPPORT}).status_code
        == 403
    )


def test_the_sandbox_survives_a_restart(app: Flask) -> None:
    """Its world lives in instance/facebook-sandbox.json, not in the process."""
    sandbox = app.extensions["facebook_sandbox"]
    sandbox.set_published(ACME_SUPPORT, False)
    restarted = type(sandbox)(sandbox.path, app_id="x", app_secret="y", app_name="z")
    assert restarted.snapshot()["pages"][ACME_SUPPORT]["is_published"] is False


def test_with_a_real_app_id_there_is_no_sandbox(app_factory: Callable[..., Flask]) -> None:
    app = app_factory(FACEBOOK_APP_ID="123456789", FACEBOOK_APP_SECRET="real-secret")
    assert app.config["FACEBOOK_SANDBOX"] is False
    assert "facebook_sandbox" not in app.extensions
    client = app.test_client()
    assert client.get("/sandbox/facebook/graph/v25.0/me").status_code == 404
    assert client.get("/sandbox/facebook/www/v25.0/dialog/oauth").status_code == 404
