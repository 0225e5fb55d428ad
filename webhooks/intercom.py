"""Intercom webhook verification: ``X-Hub-Signature: sha1=<hex HMAC-SHA1>``.

Intercom signs the raw JSON body with the app's client secret. SHA-1 is weak as a hash
but still sound inside an HMAC. There is no timestamp: replays are caught by the hub's
idempotency key (the notification ``id``), not here.
"""

# Vendor docs (protocols.md §5.2 and §8):
#   https://intercom-developer-hub.readme.io/reference/signed-notifications
#   https://developers.intercom.com/docs/webhooks/webhook-notifications

from __future__ import annotations

import hmac
from collections.abc import Sequence

from webhooks.errors import SignatureError
from webhooks.hmac_utils import matches_any, require_secrets, required_header
from webhooks.raw import RawRequest

SIGNATURE_HEADER = "x-hub-signature"
_PREFIX = "sha1="


def verify_intercom(raw: RawRequest, client_secret: str | Sequence[str]) -> None:
    """Verify ``X-Hub-Signature`` over the raw body.

    Args:
        raw: the notification exactly as received.
        client_secret: the app's client secret, or several during a rotation.

    Raises:
        ValueError: when no client secret is configured.
        SignatureError: missing, malformed or non-matching signature.
    """
    secrets = require_secrets(client_secret, "an Intercom client secret")
    header = required_header(raw.header(SIGNATURE_HEADER), "X-Hub-Signature")
    if header[: len(_PREFIX)].lower() != _PREFIX:
        raise SignatureError("X-Hub-Signature must start with 'sha1='")
    given = header[len(_PREFIX) :].lower().encode()
    candidates = (hmac.new(s, raw.body, "sha1").hexdigest().encode() for s in secrets)
    if not matches_any(candidates, given):
        raise SignatureError("Intercom signature does not match")
