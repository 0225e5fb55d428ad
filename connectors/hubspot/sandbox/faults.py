"""Scriptable faults so connector tests can rehearse HubSpot's bad days.

Each fault applies to the next ``count`` API requests whose path starts with
``path_prefix`` (OAuth endpoints included only if the prefix says so). They are consumed
in the order they were added, before authentication and rate limiting, like an edge
proxy would fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from flask import Response

from .errors import HubSpotHTTPError, server_error
from .ratelimit import rate_limit_error

_BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class Fault:
    """One scripted fault; ``remaining`` counts down as requests consume it."""

    kind: str  # "status" | "slow" | "hook"
    remaining: int
    path_prefix: str = "/crm"
    status: int = 0
    seconds: float = 0.0
    hook: Callable[[], None] | None = None
    skip: int = 0  # requests to let through before this fault starts


class FaultInjector:
    """The Python API tests use: ``sandbox.faults.fail_next(2, 429)`` and friends."""

    def __init__(self, rate_limit_group: str = "publicapi:private_app-api-calls-ten-secondly"
                 ) -> None:
        self.rate_limit_group = rate_limit_group
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def fail_next(self, count: int, status: int, path_prefix: str = "/crm") -> None:
        """The next ``count`` requests answer ``status`` (429, 500, 502, 503 ...)."""
        self._add(Fault("status", count, path_prefix, status=status))

    def slow_next(self, count: int, seconds: float, path_prefix: str = "/crm") -> None:
        """Delay the next ``count`` requests (to exercise client timeouts)."""
        self._add(Fault("slow", count, path_prefix, seconds=seconds))

    def on_request(self, hook: Callable[[], None], after: int = 0,
                   path_prefix: str = "/crm") -> None:
        """Run ``hook`` once, just before request number ``after + 1`` from now is handled.

        Use it to change records mid-sync (e.g. update a contact between two pages).
        """
        self._add(Fault("hook", 1, path_prefix, hook=hook, skip=after))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _add(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("a fault must apply to at least one request")
        with self._lock:
            self._faults.append(fault)

    def _due(self, path: str) -> list[Fault]:
        due: list[Fault] = []
        with self._lock:
            for fault in list(self._faults):
                if not path.startswith(fault.path_prefix):
                    continue
                if fault.kind == "status" and any(f.kind == "status" for f in due):
                    continue  # one status per request; the next fault waits its turn
                if fault.skip:
                    fault.skip -= 1
                    continue
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                due.append(fault)
        return due

    def apply(self, path: str) -> Response | None:
        """Run due hooks and delays; return an error response when a status fault fires."""
        for fault in self._due(path):
            if fault.kind == "hook" and fault.hook is not None:
                fault.hook()
            elif fault.kind == "slow":
                time.sleep(fault.seconds)
            elif fault.kind == "status":
                return self._status_response(fault.status)
        return None

    def _status_response(self, status: int) -> Response:
        if status == 502:
            return Response(_BAD_GATEWAY_HTML, status=502, mimetype="text/html")
        if status == 429:
            raise rate_limit_error("TEN_SECONDLY_ROLLING",
                                   "You have reached your ten_secondly_rolling limit.",
                                   self.rate_limit_group)
        error: HubSpotHTTPError = server_error(status)
        raise error
