"""What every vendor sender simulator shares: how a request goes out, what came back.

The simulators in ``connectors/<type>/simulator.py`` sign exactly as their vendor does;
the transport is the same for all of them, so it lives here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: (method, url, body, headers) -> (status, body, content type): a Flask test client
#: adapter in tests, an :func:`http_sender` against a running hub.
Send = Callable[[str, str, bytes, dict[str, str]], tuple[int, bytes, str]]


@dataclass(frozen=True)
class SimResponse:
    """What the receiver answered (the last attempt when retried)."""

    status: int
    body: bytes
    content_type: str
    attempts: int = 1


def http_sender(timeout: float) -> Send:
    """Real HTTP with the vendor's own response deadline (``timeout`` seconds)."""

    def send(method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
        import requests

        response = requests.request(method, url, data=body, headers=headers, timeout=timeout)
        return response.status_code, response.content, response.headers.get("content-type", "")

    return send
