"""Field values on the wire: Salesforce's datetime format and write-time type checks.

Records are stored as Python values (aware UTC datetimes, dates, str, bool, int,
float, None) and rendered the way the REST API renders them, so a connector
parsing ``2024-01-02T03:04:05.000+0000`` meets exactly that string.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from .errors import SalesforceError
from .ids import normalize_id
from .objects import prefix_to_type
from .schema import ID_TYPES, NUMBER_TYPES, STRING_TYPES, Field

_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|[+-]\d{2}:?\d{2})$"
)
_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def format_datetime(value: datetime) -> str:
    """Render as the REST API does: ``2024-01-02T03:04:05.000+0000`` (always UTC)."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def render(value: Any) -> Any:
    """Turn a stored value into its JSON form."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def parse_datetime(text: str) -> datetime | None:
    """Parse an ISO-8601 datetime with a zone (Z, +hh:mm or +hhmm); None if it has none.

    Salesforce rejects zone-less datetimes in SOQL; in JSON bodies it assumes UTC,
    which :func:`coerce` handles separately.
    """
    match = _DATETIME_RE.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, frac, zone = match.groups()
    try:
        tz = UTC if zone == "Z" else _offset(zone)
        micro = int((frac or "0").ljust(6, "0")[:6])
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        ).astimezone(UTC)
    except ValueError:
        return None


def _offset(zone: str) -> timezone:
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError(zone)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_date(text: str) -> date | None:
    """Parse ``YYYY-MM-DD``; None when malformed or impossible (2024-02-30)."""
    match = _DATE_RE.match(text)
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _bad_value(f: Field, value: Any, type_name: str) -> SalesforceError:
    return SalesforceError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {type_name} from VALUE_STRING value {value} "
        f"or request may be missing a required field",
    )


def coerce(f: Field, value: Any, object_name: str) -> Any:
    """Validate one written value against its field and return the stored form.

    Raises the error Salesforce returns for that mistake (400 with its errorCode).
    """
    if value is None:
        return None
    if f.type in STRING_TYPES:
        return _coerce_string(f, value)
    if f.type in ID_TYPES:
        return _coerce_reference(f, value)
    if f.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _bad_value(f, value, "boolean")
    if f.type in NUMBER_TYPES:
        return _coerce_number(f, value)
    if f.type == "datetime":
        return _coerce_datetime(f, value)
    if f.type == "date":
        parsed = parse_date(value) if isinstance(value, str) else None
        if parsed is None:
            raise _bad_value(f, value, "date")
        return parsed
    raise SalesforceError(400, "INVALID_FIELD", f"Unsupported field type on {object_name}")


def _coerce_string(f: Field, value: Any) -> str:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = str(value)
    elif isinstance(value, str):
        text = value
    else:
        raise SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of string from START_OBJECT value for field {f.name}",
        )
    if f.length and len(text) > f.length:
        raise SalesforceError(
            400,
            "STRING_TOO_LONG",
            f"{f.display_label}: data value too large: {text} (max length={f.length})",
            fields=[f.name],
        )
    if f.type == "email" and text and not _EMAIL_RE.match(text):
        raise SalesforceError(
            400,
            "INVALID_EMAIL_ADDRESS",
            f"{f.display_label}: invalid email address: {text}",
            fields=[f.name],
        )
    return text


def _coerce_reference(f: Field, value: Any) -> str:
    canonical = normalize_id(value) if isinstance(value, str) else None
    if canonical is None or prefix_to_type(canonical[:3]) not in f.reference_to:
        raise SalesforceError(
            400,
            "MALFORMED_ID",
            f"{f.display_label}: id value of incorrect type: {value}",
            fields=[f.name],
        )
    return canonical


def _coerce_number(f: Field, value: Any) -> int | float:
    if isinstance(value, bool):
        raise _bad_value(f, value, "double")
    if isinstance(value, int | float):
        number: int | float = value
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            raise _bad_value(f, value, "double") from None
    else:
        raise _bad_value(f, value, "double")
    if f.type == "int":
        if float(number) != int(number):
            raise _bad_value(f, value, "int")
        return int(number)
    return float(number)


def _coerce_datetime(f: Field, value: Any) -> datetime:
    if not isinstance(value, str):
        raise _bad_value(f, value, "datetime")
    parsed = parse_datetime(value)
    if parsed is None:
        # JSON bodies may omit the zone; Salesforce then reads the value as UTC.
        naive = parse_datetime(value + "Z")
        if naive is None:
            raise _bad_value(f, value, "datetime")
        parsed = naive
    return parsed
