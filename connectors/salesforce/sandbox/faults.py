"""Scriptable misbehaviour: injected errors, slow responses, hooks, and the API quota.

Tests script the sandbox the way production misbehaves: "the next 2 REST calls
answer 503", "every call takes 300 ms", "when the second query page is requested,
edit a record first", "the org has used 14,999 of 15,000 daily requests".
Everything is counted, so a test can assert the fault was actually consumed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import SalesforceError, request_limit_exceeded


@dataclass
class InjectedError:
    """``times`` responses with this error for REST paths containing ``path_contains``."""

    error: SalesforceError
    times: int
    path_contains: str = ""


@dataclass
class Hook:
    """Run ``action`` before the next ``times`` requests whose path contains the text."""

    action: Callable[[], object]
    times: int
    path_contains: str = ""


class Faults:
    """Queued faults, consumed in order by matching requests; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: list[InjectedError] = []
        self._hooks: list[Hook] = []
        self._delay_seconds = 0.0
        self._delay_times: int | None = None
        self.injected_served = 0

    def inject(self, error: SalesforceError, times: int = 1, path_contains: str = "") -> None:
        """Answer the next ``times`` matching REST calls with ``error``."""
        with self._lock:
            self._errors.append(InjectedError(error, times, path_contains))

    def add_hook(
        self, action: Callable[[], object], times: int = 1, path_contains: str = ""
    ) -> None:
        """Run ``action`` before handling the next ``times`` matching requests."""
        with self._lock:
            self._hooks.append(Hook(action, times, path_contains))

    def set_delay(self, seconds: float, times: int | None = None) -> None:
        """Delay every request (or the next ``times``) by ``seconds``."""
        with self._lock:
            self._delay_seconds = seconds
            self._delay_times = times

    def clear(self) -> None:
        """Drop every pending fault, hook and delay."""
        with self._lock:
            self._errors.clear()
            self._hooks.clear()
            self._delay_seconds = 0.0
            self._delay_times = None

    @property
    def pending_errors(self) -> int:
        with self._lock:
            return sum(e.times for e in self._errors)

    def before_request(self, path: str) -> None:
        """Apply the delay and run due hooks (outside the lock: hooks may write records)."""
        with self._lock:
            delay = self._delay_seconds
            if self._delay_times is not None:
                if self._delay_times <= 0:
                    delay = 0.0
                else:
                    self._delay_times -= 1
            due = [h for h in self._hooks if h.path_contains in path]
            for hook in due:
                hook.times -= 1
            self._hooks = [h for h in self._hooks if h.times > 0]
        if delay:
            time.sleep(delay)
        for hook in due:
            hook.action()

    def take_error(self, path: str) -> SalesforceError | None:
        """Consume and return the first injected error matching ``path``, if any."""
        with self._lock:
            for injected in self._errors:
                if injected.path_contains in path:
                    injected.times -= 1
                    if injected.times <= 0:
                        self._errors.remove(injected)
                    self.injected_served += 1
                    return injected.error
        return None


class ApiQuota:
    """The org's rolling 24-hour API request allocation (``DailyApiRequests``).

    Salesforce counts every REST call, reports ``api-usage=used/max`` in the
    ``Sforce-Limit-Info`` header, and refuses calls past the limit with 403
    REQUEST_LIMIT_EXCEEDED.
    """

    def __init__(self, limit: int = 15000, used: int = 0) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self.used = used

    def set(self, limit: int | None = None, used: int | None = None) -> None:
        with self._lock:
            if limit is not None:
                self.limit = limit
            if used is not None:
                self.used = used

    def consume(self) -> None:
        """Count one call or raise REQUEST_LIMIT_EXCEEDED when the allocation is spent."""
        with self._lock:
            if self.used >= self.limit:
                raise request_limit_exceeded()
            self.used += 1

    def header(self) -> str:
        with self._lock:
            return f"api-usage={self.used}/{self.limit}"
