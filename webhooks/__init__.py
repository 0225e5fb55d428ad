"""Webhook signature verification: pure, framework-free, no database.

Everything here takes raw request bytes and returns a verdict. Nothing imports
``hub`` or ``connectors``, so the verifiers can be fuzzed and reused on their own.
"""

from webhooks.errors import (
    PayloadError,
    PayloadTooLargeError,
    SignatureError,
    WebhookError,
)
from webhooks.raw import RawRequest

__all__ = [
    "PayloadError",
    "PayloadTooLargeError",
    "RawRequest",
    "SignatureError",
    "WebhookError",
]
