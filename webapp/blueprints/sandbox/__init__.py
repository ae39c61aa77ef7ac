"""The built-in Facebook: Graph API, Login dialog and knobs, on when no real app is set."""

from pathlib import Path

from flask import Flask

from webapp.blueprints.sandbox import send_routes, simulator_routes  # noqa: F401 (views join bp)
from webapp.blueprints.sandbox.courier import Courier
from webapp.blueprints.sandbox.routes import bp
from webapp.blueprints.sandbox.world import SandboxWorld


def init_app(app: Flask) -> None:
    """Create the sandbox's world for this app and mount its routes."""
    app.extensions["facebook_sandbox"] = SandboxWorld(
        Path(app.instance_path) / "facebook-sandbox.json",
        app_id=app.config["FACEBOOK_APP_ID"],
        app_secret=app.config["FACEBOOK_APP_SECRET"],
        app_name="Pagedesk",
    )
    base = app.config  # read at send time: tests move BASE_URL to their server's port
    app.extensions["facebook_sandbox_courier"] = Courier(
        url=lambda: base["BASE_URL"].rstrip("/") + "/webhooks/facebook",
        app_secret=app.config["FACEBOOK_APP_SECRET"],
    )
    app.register_blueprint(bp)


__all__ = ["bp", "init_app"]
