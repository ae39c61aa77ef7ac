"""The agents' inbox: tickets, chats and replies."""

from webapp.blueprints.inbox import actions  # noqa: F401 (its views join bp)
from webapp.blueprints.inbox.routes import bp

__all__ = ["bp"]
