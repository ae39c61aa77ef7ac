"""Everything that knows Facebook, and nothing of Flask.

The Graph API client, webhook parsing and signatures, and the messaging policy
live here as plain Python, so the helpdesk services and the tests can use them
without an app.
"""
