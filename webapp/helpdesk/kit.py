"""What a service needs to talk to Facebook and keep its tokens."""

from __future__ import annotations

from dataclasses import dataclass

from webapp.facebook.graph import GraphClient
from webapp.facebook.login import FacebookLogin
from webapp.helpdesk.vault import Vault


@dataclass(frozen=True)
class FacebookKit:
    """The Graph client, the Login client and the token vault, built from the settings."""

    graph: GraphClient
    login: FacebookLogin
    vault: Vault

    def close(self) -> None:
        self.graph.close()
