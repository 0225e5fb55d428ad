"""Slack request signing (``v0``) with a five-minute window.

Slack signs ``"v0:" + timestamp + ":" + raw body`` with the app's signing secret and
sends the timestamp in seconds. Like ``slack_sdk.signature.SignatureVerifier`` we refuse
a timestamp more than five minutes away from now in either direction.
"""

# Vendor docs (protocols.md §5.3 and §8):
#   https://docs.slack.dev/authentication/verifying-requests-from-slack/
#   slack_sdk 3.47.0 slack_sdk/signature/__init__.py

from __future__ import annotations

import hmac
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
)
from webhooks.raw import RawRequest

SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
DEFAULT_TOLERANCE = timedelta(minutes=5)
_PREFIX = "v0="


def verify_slack(
    raw: RawRequest,
    signing_secret: str | Sequence[str],
    *,
    now: datetime | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Verify ``X-Slack-Signature`` and the freshness of ``X-Slack-Request-Timestamp``.

    Args:
        raw: the request exactly as received.
        signing_secret: the app's signing secret, or several during a rotation.
        now: the reference time; defaults to ``raw.received_at``.
        tolerance: how far the timestamp may be from ``now``, either way.

    Raises:
        ValueError: when no signing secret is configured.
        SignatureError: missing, malformed, stale or non-matching signature.
    """
    secrets = require_secrets(signing_secret, "a Slack signing secret")
    reference = aware(now or raw.received_at)
    stamp = required_header(raw.header(TIMESTAMP_HEADER), "X-Slack-Request-Timestamp")
    header = required_header(raw.header(SIGNATURE_HEADER), "X-Slack-Signature")
    check_timestamp_window(parse_epoch(stamp, "Slack"), reference, tolerance)
    if not header.startswith(_PREFIX):
        raise SignatureError("X-Slack-Signature must start with 'v0='")
    message = b"v0:" + stamp.encode() + b":" + raw.body
    candidates = (hmac.new(s, message, "sha256").hexdigest().encode() for s in secrets)
    if not matches_any(candidates, header[len(_PREFIX) :].lower().encode()):
        raise SignatureError("Slack signature does not match")
