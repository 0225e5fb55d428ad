"""HubSpot's error bodies, raised as one exception type and rendered in one place.

Shapes follow HubSpot's OpenAPI ``Error`` model and live responses (see
../shared/protocols.md §1.5): ``status: "error"``, ``message``, ``correlationId``,
``category`` and optional ``errors``/``context``/``links``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any


def correlation_id() -> str:
    """A fresh correlation id; HubSpot puts one in every error body and response header."""
    return str(uuid.uuid4())


class HubSpotHTTPError(Exception):
    """An HTTP error response the sandbox returns as-is (status, JSON body, extra headers)."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {body.get('category') or body.get('status')}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    """The standard CRM error body; ``extra`` adds ``errors``, ``context``, ``subCategory``."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    }
    body.update({key: value for key, value in extra.items() if value is not None})
    return body


def validation_error(message: str, **extra: Any) -> HubSpotHTTPError:
    """400 ``VALIDATION_ERROR``: HubSpot's answer to any request that breaks the schema."""
    return HubSpotHTTPError(400, error_body(message, "VALIDATION_ERROR", **extra))


def property_errors(problems: list[dict[str, Any]]) -> HubSpotHTTPError:
    """400 for bad property values, with HubSpot's JSON-inside-the-message format.

    Live responses read ``Property values were not valid: [{"isValid":false, ...}]``;
    clients parse the embedded list, so we keep it byte-compatible in spirit.
    """
    message = "Property values were not valid: " + json.dumps(problems, separators=(",", ":"))
    return validation_error(message)


def not_found(message: str = "resource not found") -> HubSpotHTTPError:
    """404 ``OBJECT_NOT_FOUND`` (live body: ``"message":"resource not found"``)."""
    return HubSpotHTTPError(404, error_body(message, "OBJECT_NOT_FOUND"))


def conflict(message: str) -> HubSpotHTTPError:
    """409 ``CONFLICT``, e.g. ``Contact already exists. Existing ID: 512``."""
    return HubSpotHTTPError(409, error_body(message, "CONFLICT"))


AUTH_MISSING_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
    "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def unauthorized(message: str = AUTH_MISSING_MESSAGE, category: str = "INVALID_AUTHENTICATION",
                 **extra: Any) -> HubSpotHTTPError:
    """401; HubSpot uses ``INVALID_AUTHENTICATION`` and ``EXPIRED_AUTHENTICATION``."""
    return HubSpotHTTPError(401, error_body(message, category, **extra))


def server_error(status: int = 500) -> HubSpotHTTPError:
    """A 5xx with HubSpot's generic internal-error body (injected by the fault API)."""
    return HubSpotHTTPError(
        status, error_body("internal error", "INTERNAL_ERROR" if status == 500 else "UNKNOWN")
    )
