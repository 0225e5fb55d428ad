"""Credentials of the sandbox org and the sessions and refresh tokens it has issued."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from .ids import make_id, random_token


@dataclass(frozen=True)
class Credentials:
    """Who may log in, and the org facts the login responses report.

    The defaults are test values, not secrets: the sandbox only listens on loopback.
    ``jwt_public_key_pem`` is the certificate's public key of the connected app; when
    it is None the JWT bearer grant fails, as it does for an app without a certificate.
    """

    username: str = "integration@threadline.example"
    password: str = "sandbox-password"  # noqa: S105
    security_token: str = "SANDBOXTOKEN0123456789"  # noqa: S105
    consumer_key: str = "3MVG9sandbox.threadline.consumer.key"
    consumer_secret: str = "SANDBOX0CONSUMER0SECRET"  # noqa: S105
    jwt_public_key_pem: str | None = None
    client_credentials_enabled: bool = True
    trusted_ip: bool = False  # when True, SOAP login without a security token succeeds
    org_id: str = make_id("00D", 1)
    user_id: str = make_id("005", 1)
    instance_host: str = "threadline-dev-ed.my.salesforce.com"
    org_name: str = "Threadline Sandbox Org"

    @property
    def instance_url(self) -> str:
        return f"https://{self.instance_host}"


class Sessions:
    """Issued access tokens and refresh tokens; thread-safe.

    Expiring the sessions makes every held token invalid while new logins keep
    working, which is exactly what a connector sees when Salesforce times a session
    out: one 401 INVALID_SESSION_ID, a re-login, and a retry that succeeds.
    """

    def __init__(self, org_id: str) -> None:
        self._lock = threading.Lock()
        self._org15 = org_id[:15]
        self._sessions: set[str] = set()
        self._refresh_tokens: set[str] = set()
        self.logins = 0

    def issue(self) -> str:
        """A new session id shaped like Salesforce's (``00D...!AQ...``)."""
        token = f"{self._org15}!AQ0AQ{random_token(secrets.choice, 96)}"
        with self._lock:
            self._sessions.add(token)
            self.logins += 1
        return token

    def is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self._sessions

    def expire_all(self) -> None:
        """Invalidate every issued session (refresh tokens survive, as in Salesforce)."""
        with self._lock:
            self._sessions.clear()

    def issue_refresh_token(self) -> str:
        """A refresh token as the web-server flow would have granted it."""
        token = f"5Aep861{random_token(secrets.choice, 80)}"
        with self._lock:
            self._refresh_tokens.add(token)
        return token

    def refresh_token_is_valid(self, token: str) -> bool:
        with self._lock:
            return token in self._refresh_tokens

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self._refresh_tokens.clear()
