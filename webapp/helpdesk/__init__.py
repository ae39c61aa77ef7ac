"""The helpdesk's rules, as plain functions of a session and values.

Blueprints and jobs call these; they own the transaction (they commit) and
raise :class:`~webapp.helpdesk.errors.DomainError` with a message for people.
"""
