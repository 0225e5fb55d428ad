"""HubSpot's per-portal API limits: a rolling 10-second window, a daily quota, search 5/s.

Limits are configurable because HubSpot's differ by app type and tier (private apps
100/10 s and 250k/day on Free/Starter; OAuth apps 110/10 s; search 5/s) [T/U]. The 429
bodies are the ones integrations copy from live responses (../shared/protocols.md §1.5).
A rejected request is not counted, and the daily window resets at midnight UTC [U].
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from .errors import HubSpotHTTPError, correlation_id
from .timeutil import Clock


@dataclass(frozen=True)
class RateLimits:
    """Configurable limits for one portal."""

    per_ten_seconds: int = 100
    daily: int = 250_000
    search_per_second: int = 5
    enabled: bool = True


def rate_limit_error(policy: str, message: str, group: str) -> HubSpotHTTPError:
    """429 with HubSpot's body: ``errorType: RATE_LIMIT`` and the ``policyName``."""
    return HubSpotHTTPError(429, {
        "status": "error", "message": message, "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(), "policyName": policy, "groupName": group,
    })


class RateLimiter:
    """Counts requests per portal; ``check`` raises the 429 or returns response headers."""

    def __init__(self, limits: RateLimits, clock: Clock, portal_id: int, app_id: int) -> None:
        self.limits = limits
        self.clock = clock
        self.portal_id = portal_id
        self.app_id = app_id
        self._lock = threading.Lock()
        self._window: deque[float] = deque()
        self._search: deque[float] = deque()
        self._day: int | None = None
        self._day_count = 0

    def _group(self, kind: str) -> str:
        return f"publicapi:private_app-api-calls-{kind}:{self.app_id}:{self.portal_id}"

    def check(self, *, is_search: bool) -> dict[str, str]:
        """Count one request; raise 429 when over a limit, else return the headers to send."""
        with self._lock:
            now = self.clock()
            day = int(now // 86_400)
            if day != self._day:
                self._day, self._day_count = day, 0
            while self._window and self._window[0] <= now - 10:
                self._window.popleft()
            while self._search and self._search[0] <= now - 1:
                self._search.popleft()
            try:
                self._enforce(is_search)
            except HubSpotHTTPError as exc:
                exc.headers.update(self._headers(now, is_search))
                raise
            self._day_count += 1
            self._window.append(now)
            if is_search:
                self._search.append(now)
            return self._headers(now, is_search)

    def _enforce(self, is_search: bool) -> None:
        limits = self.limits
        if not limits.enabled:
            return
        if self._day_count >= limits.daily:
            raise rate_limit_error("DAILY", "You have reached your daily limit.",
                                   self._group("daily"))
        if is_search and len(self._search) >= limits.search_per_second:
            raise rate_limit_error("SECONDLY", "You have reached your secondly limit.",
                                   self._group("search-secondly"))
        if len(self._window) >= limits.per_ten_seconds:
            raise rate_limit_error("TEN_SECONDLY_ROLLING",
                                   "You have reached your ten_secondly_rolling limit.",
                                   self._group("ten-secondly"))

    def _headers(self, now: float, is_search: bool) -> dict[str, str]:
        limits = self.limits
        headers = {
            "X-HubSpot-RateLimit-Daily": str(limits.daily),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(limits.daily - self._day_count, 0)),
        }
        if is_search:  # live search responses carried only the Daily pair
            return headers
        secondly = max(limits.per_ten_seconds // 10, 1)
        last_second = sum(1 for t in self._window if t > now - 1)
        headers.update({
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Max": str(limits.per_ten_seconds),
            "X-HubSpot-RateLimit-Remaining": str(
                max(limits.per_ten_seconds - len(self._window), 0)),
            "X-HubSpot-RateLimit-Secondly": str(secondly),
            "X-HubSpot-RateLimit-Secondly-Remaining": str(max(secondly - last_second, 0)),
        })
        return headers

    def reset(self) -> None:
        """Forget all counted requests (tests, or a new simulated day)."""
        with self._lock:
            self._window.clear()
            self._search.clear()
            self._day_count = 0
