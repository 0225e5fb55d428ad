"""HubSpot request signatures: v1, v2 and v3.

HubSpot signs webhooks (v1), workflow webhooks and CRM-card fetches (v2) and, since
2021, every request with v3 as well: an HMAC with a millisecond timestamp. Only v3 is a
real MAC with replay protection; v1 and v2 are plain SHA-256 over the secret and the
request, kept for subscriptions that still send them. A deployment that only receives
v3 should pass ``require_v3=True`` so a stripped v3 header cannot downgrade a request.
"""

# Vendor docs (protocols.md §1.2 and §8):
#   https://developers.hubspot.com/docs/api/webhooks/validating-requests
#   https://developers.hubspot.com/changelog/introducing-version-3-of-webhook-signatures
#   https://developers.hubspot.com/docs/faq/v1-request-validation (and /v2-request-validation)

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from datetime import datetime, timedelta

from webhooks.errors import SignatureError
from webhooks.hmac_utils import (
    aware,
    check_timestamp_window,
    matches_any,
    parse_epoch,
    require_secrets,
    required_header,
    utf8,
)
from webhooks.raw import RawRequest

SIGNATURE_HEADER = "x-hubspot-signature"
VERSION_HEADER = "x-hubspot-signature-version"
V3_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
DEFAULT_TOLERANCE = timedelta(minutes=5)

# The escapes HubSpot decodes before signing a v3 URI; every other escape (%20, %26,
# %3D ...) stays as sent. Hex digits are case-insensitive in percent-encoding.
_V3_ESCAPES = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def v3_uri(url: str) -> str:
    """Return ``url`` with the percent-escapes HubSpot decodes for v3 decoded."""
    return _V3_ESCAPES.sub(lambda match: chr(int(match.group(1), 16)), url)


def verify_hubspot(
    raw: RawRequest,
    client_secret: str | Sequence[str],
    *,
    now: datetime | None = None,
    require_v3: bool = False,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> str:
    """Verify a HubSpot request and return the signature version used.

    v3 is checked whenever ``X-HubSpot-Signature-v3`` is present; otherwise the
    ``X-HubSpot-Signature-Version`` header picks v1 or v2.

    Args:
        raw: the request exactly as received; ``raw.url`` is the public URL HubSpot
            posted to (v2 and v3 sign it).
        client_secret: the app's client secret, or several during a rotation.
        now: the reference time for the v3 window; defaults to ``raw.received_at``.
        require_v3: refuse v1 and v2 signatures.
        tolerance: the v3 window, applied both to the past and to the future (the SDK
            only checks the past; a far-future timestamp would make a replayable request).

    Returns:
        ``"v1"``, ``"v2"`` or ``"v3"``.

    Raises:
        ValueError: when no client secret is configured.
        SignatureError: missing, malformed, stale or non-matching signature.
    """
    secrets = require_secrets(client_secret, "a HubSpot client secret")
    if raw.header(V3_HEADER) is not None:
        _verify_v3(raw, secrets, aware(now or raw.received_at), tolerance)
        return "v3"
    if require_v3:
        raise SignatureError("missing X-HubSpot-Signature-v3 header")
    version = required_header(raw.header(VERSION_HEADER), "X-HubSpot-Signature-Version")
    given = required_header(raw.header(SIGNATURE_HEADER), "X-HubSpot-Signature").lower()
    version = version.lower()
    if version == "v1":
        candidates = [hashlib.sha256(s + raw.body).hexdigest() for s in secrets]
    elif version == "v2":
        request = utf8(raw.method) + utf8(raw.url) + raw.body
        candidates = [hashlib.sha256(s + request).hexdigest() for s in secrets]
    else:
        raise SignatureError("unsupported X-HubSpot-Signature-Version")
    if not matches_any((c.encode() for c in candidates), given.encode()):
        raise SignatureError("HubSpot signature does not match")
    return version


def _verify_v3(
    raw: RawRequest, secrets: tuple[bytes, ...], now: datetime, tolerance: timedelta
) -> None:
    given = required_header(raw.header(V3_HEADER), "X-HubSpot-Signature-v3")
    stamp = required_header(raw.header(TIMESTAMP_HEADER), "X-HubSpot-Request-Timestamp")
    check_timestamp_window(parse_epoch(stamp, "HubSpot", millis=True), now, tolerance)
    # The docs decode a subset of escapes; the official SDK signs the URI verbatim.
    # Both strings come from this one request, so accepting either is no weaker.
    uris = dict.fromkeys([v3_uri(raw.url), raw.url])
    candidates = [
        base64.b64encode(
            hmac.new(s, utf8(raw.method) + utf8(u) + raw.body + stamp.encode(), "sha256").digest()
        )
        for s in secrets
        for u in uris
    ]
    if not matches_any(candidates, given.encode()):
        raise SignatureError("HubSpot v3 signature does not match")
