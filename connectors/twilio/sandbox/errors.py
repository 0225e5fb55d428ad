"""Twilio's error body (https://www.twilio.com/docs/usage/twilios-response):
``{"code", "message", "more_info", "status"}`` with the HTTP status repeated."""

from __future__ import annotations

from typing import Any


class TwilioHTTPError(Exception):
    """Raised anywhere in the sandbox; rendered by the app's one error handler."""

    def __init__(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


def unauthenticated() -> TwilioHTTPError:
    """What Twilio answers to missing or wrong Basic credentials (error 20003)."""
    return TwilioHTTPError(
        401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'}
    )
