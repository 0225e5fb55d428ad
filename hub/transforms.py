"""The closed set of named, pure transforms a mapping file may use.

No free-form expressions: each transform is a small function with documented
behaviour, so a mapping file can be validated before it runs and read by anyone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import phonenumbers


@dataclass(frozen=True)
class TransformContext:
    """What transforms may depend on besides their input."""

    default_region: str = "US"


Transform = Callable[[Any, Any, TransformContext], Any]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def trim(value: Any, _arg: Any, _ctx: TransformContext) -> Any:
    """Strip surrounding white space; an empty result becomes None (never overwrite)."""
    text = _text(value)
    if text is None:
        return None
    return text.strip() or None


def lower(value: Any, _arg: Any, _ctx: TransformContext) -> Any:
    text = _text(value)
    return text.lower() if text is not None else None


def upper(value: Any, _arg: Any, _ctx: TransformContext) -> Any:
    text = _text(value)
    return text.upper() if text is not None else None


def email(value: Any, _arg: Any, _ctx: TransformContext) -> str | None:
    """Trim and lower-case an address; anything not shaped like one becomes None.

    Provider-specific folding (Gmail dots) is not applied: it is only safe for some
    domains and a wrong fold would glue two people together.
    """
    text = _text(value)
    if text is None:
        return None
    text = text.strip().lower()
    return text if _EMAIL.match(text) else None


# Digits and the punctuation people type around them, optionally followed by an
# extension ("ext. 12", "x12", "#12"). Anything else (letters, vanity numbers such as
# 1-800-FLOWERS, "n/a", a sentence around the number) is not a phone number we trust.
_PHONE_TEXT = re.compile(
    r"^\+?[\d\s().\-/]+?(?:\s*(?:ext\.?|extension|x|#)\s*\d{1,7})?$", re.IGNORECASE
)
_EPOCH = re.compile(r"^\d+(?:\.\d+)?$", re.ASCII)


def phone(value: Any, arg: Any, ctx: TransformContext) -> str | None:
    """Normalise to E.164 with the configured default region (``arg`` overrides it).

    A leading ``00`` is the international prefix wherever it is typed (``0044 20 …``),
    as the read API assumes for lookups. Text with letters or junk, numbers that are
    not possible numbers of their region, local-only numbers (``555-0142``: the same
    digits belong to a different person in every area code) and numbers made of one
    repeated digit (``0000000``) become None, so they never become identifiers.
    """
    text = _text(value)
    if text is None or len(text) > 64:
        return None
    return _e164(text.strip(), str(arg).upper() if arg else ctx.default_region)


@lru_cache(maxsize=65_536)
def _e164(text: str, region: str) -> str | None:
    """:func:`phone` after its cheap checks. Parsing is the costly part of mapping a
    record (about 50 µs a number), and a backfill meets the same numbers again and
    again (switchboards, a person in two CRMs, a re-sync), so results are memoised;
    the function is pure, so the cache changes nothing but the time."""
    if not _PHONE_TEXT.match(text):
        return None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    if len(set(phonenumbers.national_significant_number(parsed))) < 2:
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def to_datetime(value: Any, _arg: Any, _ctx: TransformContext) -> str | None:
    """ISO-8601 text, epoch seconds or epoch milliseconds → ISO-8601 UTC text."""
    if value is None or value == "":
        return None
    parsed = parse_datetime(value)
    return parsed.isoformat() if parsed else None


def parse_datetime(value: Any) -> datetime | None:
    """Best-effort, total: an aware UTC datetime, or None rather than raising on junk.

    Naive values are taken to be UTC; numbers (and ASCII digit strings) are epoch
    seconds, or epoch milliseconds when larger than 1e11 (HubSpot).
    """
    try:
        parsed = _parse_datetime(value)
        return parsed.astimezone(UTC) if parsed else None
    except (OverflowError, OSError, ValueError):
        return None  # out of range (year 0 or 10000 once moved to UTC, 1e400, ...)


def _parse_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _EPOCH.match(value.strip())):
        number = float(value)
        if number > 1e11:  # epoch milliseconds (HubSpot) rather than seconds
            number /= 1000
        return datetime.fromtimestamp(number, UTC)
    if isinstance(value, str):
        text = value.strip()
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # Salesforce's +0000
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def enum(value: Any, arg: Any, _ctx: TransformContext) -> Any:
    """Map source values to unified ones; ``arg`` is a dict, ``_default`` its fallback."""
    if not isinstance(arg, dict):
        return value  # load_mapping rejects this; stay total if called directly
    # YAML reads `1:` and `true:` as int and bool keys; source values compare as text.
    table = {str(k): v for k, v in arg.items()}
    folded = {k.lower(): v for k, v in table.items()}
    key = _text(value)
    if key is not None and key in table:
        return table[key]
    if key is not None and key.lower() in folded:
        return folded[key.lower()]
    return table.get("_default", value)


def default(value: Any, arg: Any, _ctx: TransformContext) -> Any:
    """Use ``arg`` when the value is missing or empty."""
    return arg if value in (None, "") else value


def string(value: Any, _arg: Any, _ctx: TransformContext) -> Any:
    return _text(value)


TRANSFORMS: dict[str, Transform] = {
    "trim": trim,
    "lower": lower,
    "upper": upper,
    "email": email,
    "phone": phone,
    "datetime": to_datetime,
    "enum": enum,
    "default": default,
    "string": string,
}

#: Transforms that need an argument (``{enum: {...}}``); the others take none or one.
NEEDS_ARGUMENT = {"enum", "default"}
