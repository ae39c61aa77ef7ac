"""Facebook Login (the manual OAuth flow) through Authlib.

Authlib builds the dialog URL and exchanges the code; Facebook wants the client
secret in the POST body (``client_secret_post``).
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.requests_client import OAuthError as AuthlibError

from webapp.facebook.errors import BadRequestError, TransientError, error_from
from webapp.facebook.graph import TokenGrant

# What Messenger and page comments need (reference §1.4).
SCOPES = (
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
    "pages_read_user_content",
    "pages_manage_engagement",
    "business_management",
)


class FacebookLogin:
    """The Login dialog URL and the code exchange for one app and redirect URI."""

    def __init__(
        self,
        *,
        dialog_url: str,
        graph_url: str,
        version: str,
        app_id: str,
        app_secret: str,
        redirect_uri: str,
        timeout: float = 10.0,
    ) -> None:
        self.authorize_endpoint = f"{dialog_url.rstrip('/')}/{version}/dialog/oauth"
        self.token_endpoint = f"{graph_url.rstrip('/')}/{version}/oauth/access_token"
        self.redirect_uri = redirect_uri
        self._app_id = app_id
        self._app_secret = app_secret
        self._timeout = timeout

    def _session(self) -> OAuth2Session:
        session = OAuth2Session(
            client_id=self._app_id,
            client_secret=self._app_secret,
            token_endpoint_auth_method="client_secret_post",  # noqa: S106
            scope=",".join(SCOPES),
            redirect_uri=self.redirect_uri,
        )
        session.register_compliance_hook("access_token_response", _raise_graph_error)
        return session

    def authorization_url(self, state: str) -> str:
        """Where to send the admin: the Login dialog asking for :data:`SCOPES`."""
        with self._session() as session:
            url, _ = session.create_authorization_url(
                self.authorize_endpoint, state=state, response_type="code"
            )
        return url

    def exchange_code(self, code: str) -> TokenGrant:
        """The user token for the code the dialog sent back (single use, short-lived)."""
        with self._session() as session:
            try:
                token = session.fetch_token(self.token_endpoint, code=code, timeout=self._timeout)
            except requests.Timeout:
                raise TransientError("Facebook did not answer in time.") from None
            except requests.RequestException:
                raise TransientError("Facebook could not be reached.") from None
            except AuthlibError as error:
                raise BadRequestError(f"Facebook refused the login: {error.error}") from None
        return TokenGrant(token["access_token"], token.get("expires_in"))


def _raise_graph_error(response: requests.Response) -> requests.Response:
    """Turn Facebook's ``{"error": {...}}`` into our typed error before Authlib parses it."""
    if response.status_code >= 400:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        raise error_from(response.status_code, body)
    return response
