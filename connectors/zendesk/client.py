"""Optional hydration through the Zendesk Support API.

Event-subscription webhooks name the requester only by id; one
``GET /api/v2/users/{id}.json`` fills in name, e-mail and phone. Authentication is an
API token (``{email}/token:{api_token}`` as HTTP Basic). Error table:

| answer | what we do |
|---|---|
| 200 | use the user |
| 404 | no such user (deleted): go on without hydration |
| 401, 403 | fatal: the token or its scope is wrong; fix the settings |
| 429, 5xx, timeouts | retriable, honouring ``Retry-After`` |

Messages name the host, never the URL or the response body (which holds personal data).
"""

from __future__ import annotations

from typing import Any

import requests

from hub.errors import FatalConnectorError, RetriableError

TIMEOUT = (5, 10)


class ZendeskClient:
    def __init__(self, subdomain: str, email: str, api_token: str, *, connector: str = "") -> None:
        self.host = f"{subdomain}.zendesk.com"
        self.base = f"https://{self.host}/api/v2"
        self.session = requests.Session()
        self.session.auth = (f"{email}/token", api_token)
        self.connector = connector

    def user(self, user_id: str) -> dict[str, Any] | None:
        """The user's name, email and phone, or None when Zendesk no longer has it."""
        try:
            response = self.session.get(f"{self.base}/users/{user_id}.json", timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise RetriableError(
                f"{self.host} unreachable ({type(exc).__name__})", connector=self.connector
            ) from None
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise FatalConnectorError(
                f"{self.host} refused the API token ({response.status_code}); "
                "check api.email and api.api_token",
                connector=self.connector,
                code=str(response.status_code),
            )
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After", "")
            raise RetriableError(
                f"{self.host} answered {response.status_code}",
                connector=self.connector,
                code=str(response.status_code),
                retry_after=float(retry_after) if retry_after.isdigit() else None,
            )
        try:
            user = response.json().get("user")
        except ValueError:
            raise RetriableError(
                f"{self.host} answered a body that is not JSON", connector=self.connector
            ) from None
        if not isinstance(user, dict):
            return None
        return {k: user.get(k) for k in ("name", "email", "phone")}
