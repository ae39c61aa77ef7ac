"""webhooks blueprint: Facebook's callback URL and the admins' Webhook log."""

from webapp.blueprints.webhooks.routes import bp

__all__ = ["bp"]
