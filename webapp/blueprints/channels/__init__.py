"""channels blueprint."""

from webapp.blueprints.channels.routes import bp

__all__ = ["bp"]
