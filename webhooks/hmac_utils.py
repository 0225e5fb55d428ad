"""Small helpers shared by verifiers: constant-time comparison and timestamp windows."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from webhooks.errors import SignatureError


def constant_time_equals(expected: str | bytes, given: str | bytes) -> bool:
    """Compare two signatures without leaking where they differ."""
    a = expected.encode() if isinstance(expected, str) else expected
    b = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(a, b)


def check_timestamp_window(
    sent_at: datetime,
    now: datetime,
    tolerance: timedelta,
    *,
    allow_future: bool = False,
) -> None:
    """Refuse a request signed too long ago (replay) or too far in the future (skew).

    Raises:
        SignatureError: when ``sent_at`` is outside ``now ± tolerance``.
    """
    if now - sent_at > tolerance:
        raise SignatureError("timestamp too old")
    if not allow_future and sent_at - now > tolerance:
        raise SignatureError("timestamp too far in the future")


# --- helpers shared by the vendor verifiers -------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Up to 11 digits of seconds (year 5138) or 14 of milliseconds: enough for any real
# timestamp and small enough that the arithmetic below can never overflow.
_SECONDS = re.compile(r"[0-9]{1,11}")
_MILLIS = re.compile(r"[0-9]{1,14}")


def require_secrets(secrets: str | Sequence[str] | None, what: str) -> tuple[bytes, ...]:
    """Normalise one secret, or a list of them for rotation, to UTF-8 bytes.

    A verifier without a secret would accept anything, so a missing, empty or blank
    secret is a configuration error, never a pass.

    Raises:
        ValueError: when no secret is given or any of them is blank.
    """
    items = [secrets] if isinstance(secrets, str) or secrets is None else list(secrets)
    if not items:
        raise ValueError(f"{what} is required")
    out: list[bytes] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{what} is required and may not be blank")
        out.append(item.encode("utf-8", "surrogatepass"))
    return tuple(out)


def utf8(text: str) -> bytes:
    """Encode any ``str`` (even one with lone surrogates) without raising."""
    return text.encode("utf-8", "surrogatepass")


def required_header(value: str | None, name: str) -> str:
    """Return a present, non-blank, ASCII-only header value, stripped.

    Raises:
        SignatureError: when the header is missing, blank or not ASCII.
    """
    if value is None or not value.strip():
        raise SignatureError(f"missing {name} header")
    value = value.strip()
    if not value.isascii():
        raise SignatureError(f"malformed {name} header")
    return value


def matches_any(expected: Iterable[bytes], given: bytes) -> bool:
    """True when ``given`` equals any candidate; every candidate is compared in full."""
    found = False
    for candidate in expected:
        found |= hmac.compare_digest(candidate, given)
    return found


def parse_epoch(value: str, name: str, *, millis: bool = False) -> datetime:
    """Parse a Unix timestamp made only of ASCII digits (seconds, or milliseconds).

    Raises:
        SignatureError: for anything but plain digits ("+1", "1e9", "1.5" included).
    """
    pattern = _MILLIS if millis else _SECONDS
    if not pattern.fullmatch(value):
        raise SignatureError(f"malformed {name} timestamp")
    number = int(value)
    delta = timedelta(milliseconds=number) if millis else timedelta(seconds=number)
    return _EPOCH + delta


def aware(moment: datetime) -> datetime:
    """Return ``moment`` if it is timezone-aware.

    Raises:
        ValueError: for a naive datetime (a programming error, not a bad request).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("'now' must be a timezone-aware datetime")
    return moment
