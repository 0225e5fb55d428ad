"""Standard Webhooks verification on top of the ``standardwebhooks`` package.

The package does the cryptography (several signatures for rotation, ±5 min window,
constant-time compare). This wrapper makes it total: every malformed header becomes a
:class:`SignatureError` (the package raises a bare ``ValueError`` for an entry without
a comma), and an empty secret is refused up front rather than letting anything through.
"""

from __future__ import annotations

import binascii

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

from webhooks.errors import SignatureError
from webhooks.raw import RawRequest

HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")


def make_verifier(secret: str) -> Webhook:
    """Build a verifier for a ``whsec_…`` secret; raise ValueError when it is empty."""
    if not secret or not secret.strip():
        raise ValueError("a Standard Webhooks secret is required")
    try:
        return Webhook(secret)
    except EmptyWebhookSecretError:
        raise ValueError("a Standard Webhooks secret is required") from None
    except (binascii.Error, TypeError, RuntimeError) as exc:
        raise ValueError(f"not a base64 whsec_ secret ({type(exc).__name__})") from None


def verify(raw: RawRequest, verifier: Webhook) -> str:
    """Verify ``raw`` and return its ``webhook-id`` (the idempotency key).

    Raises:
        SignatureError: missing headers, a stale or future timestamp, no matching
            signature, or any malformed header.
    """
    headers = {name: raw.header(name) or "" for name in HEADERS}
    missing = [name for name, value in headers.items() if not value]
    if missing:
        raise SignatureError("missing header(s): " + ", ".join(missing))
    try:
        verifier.verify(raw.body, headers, json_parse=False)
    except WebhookVerificationError as exc:
        raise SignatureError(str(exc) or "no matching signature") from None
    except (ValueError, TypeError, UnicodeError) as exc:
        raise SignatureError(f"malformed signature header ({type(exc).__name__})") from None
    return headers["webhook-id"]
