"""jobs blueprint: the admins' Jobs page (run one now) and the Mail log."""

from webapp.blueprints.jobs.routes import bp

__all__ = ["bp"]
