"""channels blueprint: Facebook pages and chat channels (admins only)."""

from webapp.blueprints.channels import facebook  # noqa: F401 (its views join bp)
from webapp.blueprints.channels.routes import bp

__all__ = ["bp"]
