"""Scriptable faults: Twilio's bad days, rehearsed on loopback.

Each fault applies to the next ``count`` requests whose method and path match, in the
order added, before authentication (an edge failure comes first). Twilio answers an
over-limit request with 429 and error 20429 "Too Many Requests"
(https://www.twilio.com/docs/errors/20429); ``Retry-After`` is sent only when asked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .errors import TwilioHTTPError

MESSAGES = {
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


@dataclass
class Fault:
    kind: str  # "status" | "slow" | "hook"
    remaining: int
    method: str | None
    path_contains: str
    status: int = 0
    retry_after: int | None = None
    seconds: float = 0.0
    hook: Callable[[], None] | None = None


class FaultInjector:
    """``sandbox.faults.fail_next(1, 429, retry_after=2)`` and friends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def fail_next(
        self,
        count: int,
        status: int,
        *,
        retry_after: int | None = None,
        method: str | None = None,
        path_contains: str = "",
    ) -> None:
        """The next ``count`` matching requests answer ``status`` with Twilio's body."""
        self._add(Fault("status", count, method, path_contains, status, retry_after))

    def slow_next(
        self, count: int, seconds: float, *, method: str | None = None, path_contains: str = ""
    ) -> None:
        """Delay the next ``count`` matching requests (client timeouts)."""
        self._add(Fault("slow", count, method, path_contains, seconds=seconds))

    def on_request(
        self, hook: Callable[[], None], *, method: str | None = None, path_contains: str = ""
    ) -> None:
        """Run ``hook`` once, just before the next matching request is handled (e.g. an
        agent's Flex UI changing the task between our fetch and our update)."""
        self._add(Fault("hook", 1, method, path_contains, hook=hook))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("a fault must apply to at least one request")
        with self._lock:
            self._faults.append(fault)

    def apply(self, method: str, path: str) -> None:
        """Run due faults for this request; raises TwilioHTTPError for a status fault."""
        due: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if fault.method not in (None, method) or fault.path_contains not in path:
                    continue
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                due.append(fault)
                if fault.kind == "status":
                    break
        for fault in due:
            if fault.kind == "hook" and fault.hook is not None:
                fault.hook()
            elif fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind == "status":
                code, message = MESSAGES.get(fault.status, (20000 + fault.status, "Error"))
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                raise TwilioHTTPError(fault.status, code, message, headers)
