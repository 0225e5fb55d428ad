"""Mailgun webhook verification: signature fields carried inside the body.

Mailgun puts ``timestamp``, ``token`` and ``signature`` (hex HMAC-SHA256 of
``timestamp + token`` keyed with the HTTP webhook signing key) in the body: at the top
level of inbound-route form posts, under ``"signature"`` in JSON event webhooks.

The signature does **not** cover the rest of the body. What makes a captured signature
useless to an attacker is the freshness window here plus the hub refusing a token it
has already seen; that is why :func:`verify_mailgun` returns the token.
"""

# Vendor docs (protocols.md §5.4 and §8):
#   https://documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value
from typing import Any, TypeGuard
from urllib.parse import parse_qsl

from webhooks.errors import SignatureError
from webhooks.hmac_utils import (
    aware,
    check_timestamp_window,
    matches_any,
    parse_epoch,
    require_secrets,
)
from webhooks.raw import RawRequest

DEFAULT_TOLERANCE = timedelta(minutes=5)
FIELDS = ("timestamp", "token", "signature")


def verify_mailgun(
    raw: RawRequest,
    signing_key: str | Sequence[str],
    *,
    now: datetime | None = None,
    tolerance: timedelta | None = DEFAULT_TOLERANCE,
) -> str:
    """Verify the signature fields of a Mailgun webhook and return its token.

    Args:
        raw: the request as received: JSON, form-urlencoded or multipart/form-data.
        signing_key: the HTTP webhook signing key (older accounts: the API key), or
            several during a rotation.
        now: the reference time; defaults to ``raw.received_at``.
        tolerance: how far ``timestamp`` may be from ``now`` either way; ``None``
            disables the check (then only the token cache stops replays).

    Returns:
        The ``token``, for the hub's replay cache.

    Raises:
        ValueError: when no signing key is configured.
        SignatureError: missing, malformed, stale or non-matching signature fields,
            including a body that cannot be parsed to find them.
    """
    keys = require_secrets(signing_key, "a Mailgun webhook signing key")
    reference = aware(now or raw.received_at)
    fields = _signature_fields(raw)
    stamp, token, given = (fields.get(name) for name in FIELDS)
    if not (_is_text(stamp) and _is_text(token) and _is_text(given)):
        raise SignatureError("missing or malformed Mailgun timestamp, token or signature")
    if tolerance is not None:
        check_timestamp_window(parse_epoch(stamp, "Mailgun"), reference, tolerance)
    message = (stamp + token).encode()
    candidates = (hmac.new(k, message, "sha256").hexdigest().encode() for k in keys)
    if not matches_any(candidates, given.lower().encode()):
        raise SignatureError("Mailgun signature does not match")
    return token


def _is_text(value: object) -> TypeGuard[str]:
    """A signature field must be a non-empty ASCII string (JSON could hold anything)."""
    return isinstance(value, str) and value.isascii() and bool(value)


def _signature_fields(raw: RawRequest) -> Mapping[str, Any]:
    """Find the three signature fields in whichever body format Mailgun used."""
    kind = raw.content_type
    if kind == "application/json":
        try:
            document = json.loads(raw.body)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            raise SignatureError("body is not JSON: no Mailgun signature to check") from None
        signature = document.get("signature") if isinstance(document, dict) else None
        if not isinstance(signature, dict):
            raise SignatureError("missing Mailgun 'signature' object")
        # JSON may carry the timestamp as a number.
        stamp = signature.get("timestamp")
        if isinstance(stamp, int) and not isinstance(stamp, bool):
            return {**signature, "timestamp": str(stamp)}
        return signature
    if kind == "application/x-www-form-urlencoded":
        try:
            text = raw.body.decode("utf-8")
        except UnicodeDecodeError:
            raise SignatureError("form body is not UTF-8") from None
        return dict(parse_qsl(text, keep_blank_values=True, errors="replace"))
    if kind == "multipart/form-data":
        return _multipart_fields(raw)
    raise SignatureError("unsupported content type for a Mailgun webhook")


def _multipart_fields(raw: RawRequest) -> Mapping[str, str]:
    """Read the signature fields of a multipart/form-data body with the stdlib parser."""
    content_type = raw.header("content-type") or ""
    if not content_type.isascii() or "\r" in content_type or "\n" in content_type:
        raise SignatureError("malformed Content-Type header")
    head = b"Content-Type: " + content_type.encode() + b"\r\n\r\n"
    try:
        message = BytesParser(policy=compat32).parsebytes(head + raw.body)
        parts = message.get_payload() if message.is_multipart() else []
    except RecursionError:  # absurdly nested parts
        raise SignatureError("malformed multipart body") from None
    fields: dict[str, str] = {}
    for part in parts:
        if not isinstance(part, Message) or part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        name = collapse_rfc2231_value(name)
        payload = part.get_payload(decode=True)
        if name in FIELDS and isinstance(payload, bytes):
            # Bytes that are not UTF-8 turn into U+FFFD, which the ASCII check refuses.
            fields[name] = payload.decode("utf-8", "replace").strip()
    return fields
