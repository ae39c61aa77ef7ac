"""Errors a person can act on; the message is shown to them as it is."""


class DomainError(Exception):
    """A rule said no. ``str(error)`` is a plain-English sentence for the user."""


class NotFoundError(DomainError):
    """The thing asked for does not exist (any more)."""
