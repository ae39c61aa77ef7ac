"""Tokens at rest: sealed with Fernet under a key derived from ``SECRET_KEY``."""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from webapp.helpdesk.errors import DomainError


class VaultError(DomainError):
    """A sealed value could not be opened (``SECRET_KEY`` changed, or the value was altered)."""


class Vault:
    """Seal and open secrets; the key never leaves this object."""

    def __init__(self, secret_key: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"pagedesk-vault", info=b"facebook tokens"
        ).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def __repr__(self) -> str:
        return "Vault(<sealed>)"

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise VaultError(
                "A stored Facebook key can't be read: was SECRET_KEY changed? Reconnect the page."
            ) from None
