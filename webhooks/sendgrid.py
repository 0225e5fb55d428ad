"""Twilio SendGrid Inbound Parse: HTTP Basic credentials, or an ECDSA security policy.

Inbound Parse posts are unsigned by default. SendGrid's advice is to put HTTP Basic
credentials in the Parse URL (``https://user:pass@host/path``; clients send them as an
``Authorization: Basic`` header) or to use a secret path (a routing concern, not ours).
Newer "security policies" add an ECDSA P-256 signature. protocols.md §5.5 marks the
Parse header names and signed string as uncertain; we follow the Event Webhook:
base64 DER ECDSA-SHA256 over ``timestamp + raw body``, headers configurable.

ECDSA needs the ``cryptography`` package; it is imported only when a key is loaded, so
Basic-auth deployments do not need it.
"""

# Vendor docs (protocols.md §5.5 and §8):
#   https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/inbound-email
#   https://www.twilio.com/docs/sendgrid/for-developers/parsing-email/securing-your-parse-webhooks

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from webhooks.errors import SignatureError
from webhooks.hmac_utils import (
    aware,
    check_timestamp_window,
    parse_epoch,
    required_header,
    utf8,
)
from webhooks.raw import RawRequest

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey

SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"


def verify_sendgrid_basic_auth(raw: RawRequest, credentials: Sequence[tuple[str, str]]) -> None:
    """Check the ``Authorization: Basic`` credentials SendGrid sends from the Parse URL.

    Args:
        raw: the request as received.
        credentials: accepted ``(username, password)`` pairs; several during a rotation.

    Raises:
        ValueError: when no pair is configured or a username or password is blank.
        SignatureError: missing, malformed or wrong credentials.
    """
    expected = [(utf8(u), utf8(p)) for u, p in credentials if u.strip() and p.strip()]
    if not expected or len(expected) != len(credentials):
        raise ValueError("SendGrid Basic-auth credentials are required and may not be blank")
    header = required_header(raw.header("authorization"), "Authorization")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        raise SignatureError("Authorization must use the Basic scheme")
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
    except binascii.Error:
        raise SignatureError("malformed Basic credentials") from None
    if not sep:
        raise SignatureError("malformed Basic credentials")
    found = False
    for want_user, want_password in expected:
        # Both halves are always compared, so timing reveals neither.
        same_user = hmac.compare_digest(want_user, user)
        found |= hmac.compare_digest(want_password, password) & same_user
    if not found:
        raise SignatureError("wrong SendGrid Basic credentials")


def load_public_key(key: str) -> EllipticCurvePublicKey:
    """Load the base64 DER public key shown in SendGrid's signature settings.

    Raises:
        ValueError: for a blank, malformed or non-elliptic-curve key.
    """
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    if not key or not key.strip():
        raise ValueError("a SendGrid verification public key is required")
    try:
        loaded = load_der_public_key(base64.b64decode(key.strip(), validate=True))
    except (ValueError, binascii.Error) as exc:  # binascii.Error is a ValueError too
        raise ValueError(f"malformed SendGrid public key ({type(exc).__name__})") from None
    if not isinstance(loaded, EllipticCurvePublicKey):
        raise ValueError("the SendGrid public key must be an elliptic-curve key")
    return loaded


def verify_sendgrid_signature(
    raw: RawRequest,
    public_keys: Sequence[EllipticCurvePublicKey],
    *,
    now: datetime | None = None,
    tolerance: timedelta | None = None,
    signature_header: str = SIGNATURE_HEADER,
    timestamp_header: str = TIMESTAMP_HEADER,
) -> None:
    """Verify the ECDSA signature of a SendGrid security policy.

    Args:
        raw: the request exactly as received.
        public_keys: keys from :func:`load_public_key`; several during a rotation.
        now: the reference time; defaults to ``raw.received_at``.
        tolerance: how far the timestamp (Unix seconds) may be from ``now`` either
            way. ``None`` by default: SendGrid documents no window and retries for
            up to three days, possibly with the original timestamp.
        signature_header: the signature header name (lower-case).
        timestamp_header: the timestamp header name (lower-case).

    Raises:
        ValueError: when no key is configured.
        SignatureError: missing, malformed, stale or non-matching signature.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ec import ECDSA
    from cryptography.hazmat.primitives.hashes import SHA256

    if not public_keys:
        raise ValueError("a SendGrid verification public key is required")
    reference = aware(now or raw.received_at)
    stamp = required_header(raw.header(timestamp_header), timestamp_header)
    given = required_header(raw.header(signature_header), signature_header)
    if tolerance is not None:
        check_timestamp_window(parse_epoch(stamp, "SendGrid"), reference, tolerance)
    try:
        signature = base64.b64decode(given, validate=True)
    except binascii.Error:
        raise SignatureError("malformed SendGrid signature") from None
    message = stamp.encode() + raw.body
    for key in public_keys:
        try:
            key.verify(signature, message, ECDSA(SHA256()))
        except (InvalidSignature, ValueError):
            continue
        return
    raise SignatureError("SendGrid signature does not match")
