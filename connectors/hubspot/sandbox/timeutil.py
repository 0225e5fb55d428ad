"""Clocks and HubSpot's two timestamp spellings (ISO with milliseconds + ``Z``, epoch ms).

Every time-dependent part of the sandbox (token expiry, rate-limit windows, record
timestamps, webhook ``occurredAt``) reads one injectable clock so tests can freeze time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]
"""Returns the current Unix time in seconds (like ``time.time``)."""


def system_clock() -> float:
    """The real wall clock; the default outside tests."""
    return time.time()


class ManualClock:
    """A clock that only moves when told to, for expiry and rate-limit tests."""

    def __init__(self, start: float = 1_735_689_600.0) -> None:  # 2025-01-01T00:00:00Z
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward (negative values are refused: time never runs back)."""
        if seconds < 0:
            raise ValueError("a ManualClock only moves forward")
        with self._lock:
            self._now += seconds


def now_ms(clock: Clock) -> int:
    """Epoch milliseconds from ``clock``: HubSpot's unit for ``occurredAt`` and filters."""
    return int(clock() * 1000)


def iso_ms(ms: int) -> str:
    """Render epoch ms the way HubSpot does: ``2024-01-17T19:55:04.281Z``."""
    dt = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_datetime_ms(value: str) -> int | None:
    """Parse a HubSpot datetime input (epoch ms digits, or ISO-8601) to epoch ms.

    HubSpot accepts both spellings on write and in search filters; anything else is a
    validation error, signalled here by ``None``.
    """
    text = value.strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
