"""errors blueprint."""

from webapp.blueprints.errors.routes import bp

__all__ = ["bp"]
