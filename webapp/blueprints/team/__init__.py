"""team blueprint."""

from webapp.blueprints.team.routes import bp

__all__ = ["bp"]
