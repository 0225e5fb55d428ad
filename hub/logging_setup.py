"""Structured JSON logs with dotted event names and a redaction filter.

Messages are event names (``intake.stored``) with context in ``extra``. The filter
masks e-mail addresses and phone numbers anywhere in a record and drops values of
keys that look like secrets, so personal data and credentials never reach a log.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# A phone number: 8+ characters of digits and ( ) . - space, starting with + or a digit
# (or "(") and ending with a digit. Not inside a longer token: never right after a
# letter, digit, "." or "-", or after "<digit>:" (the seconds of a time), and never
# followed by a letter, digit or "-<alnum>" (hex ids, UUIDs). Dates (2026-11-22,
# 22.11.2026) and IPv4 addresses are not phone numbers.
_PHONE = re.compile(
    r"(?<![\w.\-+])(?<!\d:)"
    r"(?!\d{4}-\d{1,2}-\d{1,2}(?!\d))"
    r"(?!\d{1,2}[./-]\d{1,2}[./-]\d{4}(?!\d))"
    r"(?!\d{1,3}(?:\.\d{1,3}){3}(?![.\d]))"
    r"(?:\+|\(\+?)?\d[\d ().-]{6,}\d"
    r"(?![\w:])(?!-\w)"
)
_SECRET_KEYS = re.compile(
    r"secret|token|passw(?:or)?d|authorization|signature|api[_-]?key|private[_-]?key"
    r"|credential|cookie",
    re.I,
)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact_text(text: str) -> str:
    """Mask e-mails (keep the domain) and phone numbers (keep the last two digits)."""
    text = _EMAIL.sub(lambda m: "***@" + m.group(0).split("@", 1)[1], text)
    return _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group(0))[-2:], text)


def redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEYS.search(key):
        return "[redacted]"
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(key, v) for v in value]
    return value


class RedactionFilter(logging.Filter):
    """Applied to every handler: personal data and secrets are masked before output."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        record.msg = redact_text(str(record.msg))
        for key in set(vars(record)) - _STANDARD:
            setattr(record, key, redact_value(key, getattr(record, key)))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key in set(vars(record)) - _STANDARD:
            entry.setdefault(key, getattr(record, key))  # an extra never overwrites these
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_class"] = record.exc_info[0].__name__
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Install one redacting handler on the root logger (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_threadline", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._threadline = True  # type: ignore[attr-defined]
    handler.addFilter(RedactionFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("werkzeug").setLevel("WARNING")
