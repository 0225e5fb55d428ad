"""The three ways an inbound request can be refused, each with its HTTP status.

The hub maps these to responses in one place; verifiers raise nothing else.
"""

from __future__ import annotations


class WebhookError(Exception):
    """Base class: a request was refused. ``status`` is the HTTP answer."""

    status = 400
    code = "webhook_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SignatureError(WebhookError):
    """The request is not provably from the sender (missing, bad or stale signature)."""

    status = 401
    code = "invalid_signature"


class PayloadError(WebhookError):
    """The request is authentic but its body is not what the sender's format promises."""

    status = 400
    code = "invalid_payload"


class PayloadTooLargeError(WebhookError):
    """The body is over the configured limit; it was not read to the end."""

    status = 413
    code = "payload_too_large"
