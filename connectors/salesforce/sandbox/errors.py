"""Salesforce's REST error shape: a JSON array of ``{"message", "errorCode"[, "fields"]}``.

Every failure the sandbox produces goes through :class:`SalesforceError`, so the
status code and body are always the pair the real API would send (401 for
INVALID_SESSION_ID, 403 for REQUEST_LIMIT_EXCEEDED, never a 429).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


class SalesforceError(Exception):
    """An error the sandbox answers with Salesforce's status, errorCode and message."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        """The JSON array body, with ``fields`` only when Salesforce sends it."""
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]

    def to_response(self) -> Response:
        """Render as a Flask response."""
        return json_response(self.body(), self.status)


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A JSON response with the content type Salesforce uses."""
    body = "" if payload is None else json.dumps(payload)
    return Response(body, status=status, headers=headers, content_type=JSON_CONTENT_TYPE)


def not_found() -> SalesforceError:
    """The 404 for an unknown resource (bad path, unknown sObject in a URL)."""
    return SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> SalesforceError:
    """The 401 simple-salesforce recognises and answers by logging in again."""
    return SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def request_limit_exceeded() -> SalesforceError:
    """The 403 for the rolling 24-hour API request limit (Salesforce never sends 429)."""
    return SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def server_unavailable() -> SalesforceError:
    """A 503, as the platform sends during maintenance or overload."""
    return SalesforceError(
        503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable. Please try again later."
    )
