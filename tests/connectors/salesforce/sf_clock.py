"""A hand-moved clock for Salesforce tests (a module, not conftest, so tests can import it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2024, 6, 3, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """A clock tests move by hand, so timestamps and replication windows are exact."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now
