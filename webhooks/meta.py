"""Meta (WhatsApp Cloud API, Messenger, Instagram) webhook verification.

Meta signs every notification with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256>``
keyed with the App Secret over the raw body (ASCII, unicode-escaped JSON). There is no
timestamp, so replays are caught by the hub's idempotency keys (``wamid``), not here.
Subscribing a callback URL is a GET handshake that echoes ``hub.challenge``.
"""

# Vendor docs (protocols.md §4 and §8):
#   https://developers.facebook.com/docs/graph-api/webhooks/getting-started

from __future__ import annotations

import hmac
from collections.abc import Sequence

from webhooks.errors import SignatureError
from webhooks.hmac_utils import matches_any, require_secrets, required_header, utf8
from webhooks.raw import RawRequest

SIGNATURE_HEADER = "x-hub-signature-256"
_PREFIX = "sha256="


def verify_meta(raw: RawRequest, app_secret: str | Sequence[str]) -> None:
    """Verify ``X-Hub-Signature-256`` over the raw body.

    Args:
        raw: the notification exactly as received.
        app_secret: the App Secret, or several while it is being reset.

    Raises:
        ValueError: when no App Secret is configured.
        SignatureError: missing, malformed or non-matching signature. The legacy
            SHA-1 ``X-Hub-Signature`` is never accepted in its place.
    """
    secrets = require_secrets(app_secret, "a Meta App Secret")
    header = required_header(raw.header(SIGNATURE_HEADER), "X-Hub-Signature-256")
    if header[: len(_PREFIX)].lower() != _PREFIX:
        raise SignatureError("X-Hub-Signature-256 must start with 'sha256='")
    given = header[len(_PREFIX) :].lower().encode()
    candidates = (hmac.new(s, raw.body, "sha256").hexdigest().encode() for s in secrets)
    if not matches_any(candidates, given):
        raise SignatureError("Meta signature does not match")


def meta_handshake(raw: RawRequest, verify_token: str) -> str:
    """Answer Meta's subscription handshake: return ``hub.challenge`` to echo as text.

    Meta sends ``GET <callback>?hub.mode=subscribe&hub.challenge=...&hub.verify_token=...``
    and expects the challenge back verbatim with a 200 when the token is ours.

    Raises:
        ValueError: when no verify token is configured.
        SignatureError: wrong mode, wrong or missing token, or no challenge (answer 403
            rather than the default 401 if the endpoint prefers Meta's wording).
    """
    expected = require_secrets(verify_token, "a Meta verify token")[0]
    try:
        query = raw.query
    except ValueError:  # e.g. a malformed IPv6 host in the URL
        raise SignatureError("malformed handshake URL") from None
    if query.get("hub.mode") != "subscribe":
        raise SignatureError("hub.mode must be 'subscribe'")
    if not hmac.compare_digest(expected, utf8(query.get("hub.verify_token", ""))):
        raise SignatureError("hub.verify_token does not match")
    challenge = query.get("hub.challenge", "")
    if not challenge:
        raise SignatureError("missing hub.challenge")
    return challenge
