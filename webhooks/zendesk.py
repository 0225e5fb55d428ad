"""Zendesk webhook verification: base64 HMAC-SHA256 over ``timestamp + body``.

The key is the signing secret string itself (its UTF-8 bytes, not base64-decoded).
Zendesk prescribes no freshness window; refusing a timestamp more than five minutes
away from now is the hub's choice, configurable and switchable off with ``None``.
"""

# Vendor docs (protocols.md §5.1 and §8):
#   https://developer.zendesk.com/documentation/webhooks/verifying/
#   https://developer.zendesk.com/api-reference/webhooks/introduction

from __future__ import annotations

import base64
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from webhooks.errors import SignatureError
from webhooks.hmac_utils import (
    aware,
    check_timestamp_window,
    matches_any,
    require_secrets,
    required_header,
)
from webhooks.raw import RawRequest

SIGNATURE_HEADER = "x-zendesk-webhook-signature"
TIMESTAMP_HEADER = "x-zendesk-webhook-signature-timestamp"
DEFAULT_TOLERANCE = timedelta(minutes=5)
# Zendesk signs test requests sent before a webhook exists with this static secret.
TEST_SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # noqa: S105


def verify_zendesk(
    raw: RawRequest,
    signing_secret: str | Sequence[str],
    *,
    now: datetime | None = None,
    tolerance: timedelta | None = DEFAULT_TOLERANCE,
) -> None:
    """Verify ``X-Zendesk-Webhook-Signature`` with its ISO-8601 timestamp header.

    Args:
        raw: the request exactly as received (GET and DELETE have an empty body).
        signing_secret: the webhook's signing secret, or several during a reset.
        now: the reference time; defaults to ``raw.received_at``.
        tolerance: how far the timestamp may be from ``now`` either way; ``None``
            checks the signature only, as Zendesk's own docs do.

    Raises:
        ValueError: when no signing secret is configured.
        SignatureError: missing, malformed, stale or non-matching signature.
    """
    secrets = require_secrets(signing_secret, "a Zendesk signing secret")
    reference = aware(now or raw.received_at)
    stamp = required_header(raw.header(TIMESTAMP_HEADER), "X-Zendesk-Webhook-Signature-Timestamp")
    given = required_header(raw.header(SIGNATURE_HEADER), "X-Zendesk-Webhook-Signature")
    if tolerance is not None:
        check_timestamp_window(_parse_iso(stamp), reference, tolerance)
    message = stamp.encode() + raw.body
    candidates = (base64.b64encode(hmac.new(s, message, "sha256").digest()) for s in secrets)
    if not matches_any(candidates, given.encode()):
        raise SignatureError("Zendesk signature does not match")


def _parse_iso(stamp: str) -> datetime:
    """Parse ``2021-03-25T05:09:27Z``; a timestamp without an offset is taken as UTC."""
    try:
        sent_at = datetime.fromisoformat(stamp)
    except ValueError:
        raise SignatureError("malformed Zendesk timestamp") from None
    return sent_at if sent_at.tzinfo is not None else sent_at.replace(tzinfo=UTC)
