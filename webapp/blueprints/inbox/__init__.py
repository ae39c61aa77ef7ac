"""inbox blueprint."""

from webapp.blueprints.inbox.routes import bp

__all__ = ["bp"]
