"""Fixtures: a seeded sandbox on loopback and the real hubspot-api-client pointed at it.

One loopback server lives for the whole session and forwards to whichever WSGI app the
current test mounted: werkzeug's ``shutdown`` waits up to half a second, and paying that
per test would dominate the suite's runtime. Every test still gets a fresh sandbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import hubspot
import pytest

from connectors.hubspot.sandbox import HubSpotSandbox, RateLimits, SeedCounts
from hub.sandbox_server import RunningServer, run_in_thread

SMALL = SeedCounts(contacts=250, companies=10, calls=30, emails=10, notes=20, meetings=5)
GENEROUS = RateLimits(per_ten_seconds=100_000, daily=1_000_000, search_per_second=1_000)


class Mount:
    """A WSGI app that delegates to the app mounted by the current test."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.app is None:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"nothing mounted"]
        return self.app(environ, start_response)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def _sandbox_mount() -> Iterator[tuple[Mount, RunningServer]]:
    mount = Mount()
    server = run_in_thread(mount)
    yield mount, server
    server.stop()


@pytest.fixture(scope="session")
def _receiver_mount() -> Iterator[tuple[Mount, RunningServer]]:
    mount = Mount()
    server = run_in_thread(mount)
    yield mount, server
    server.stop()


@pytest.fixture
def serve(_sandbox_mount: tuple[Mount, RunningServer]
          ) -> Iterator[Callable[[HubSpotSandbox], RunningServer]]:
    """Mount a sandbox on the shared loopback server (one sandbox at a time)."""
    mount, server = _sandbox_mount

    def start(sandbox: HubSpotSandbox) -> RunningServer:
        mount.app = sandbox.app
        return server

    yield start
    mount.app = None


@pytest.fixture
def serve_receiver(_receiver_mount: tuple[Mount, RunningServer]
                   ) -> Iterator[Callable[[Any], RunningServer]]:
    """Mount a webhook receiver app on a second shared loopback server."""
    mount, server = _receiver_mount

    def start(app: Any) -> RunningServer:
        mount.app = app
        return server

    yield start
    mount.app = None


@pytest.fixture
def sandbox() -> HubSpotSandbox:
    return HubSpotSandbox(seed=7, counts=SMALL, rate_limits=GENEROUS)


@pytest.fixture
def server(sandbox: HubSpotSandbox, serve: Callable[[HubSpotSandbox], RunningServer]
           ) -> RunningServer:
    return serve(sandbox)


@pytest.fixture
def client(sandbox: HubSpotSandbox, server: RunningServer) -> hubspot.Client:
    return hubspot.Client.create(access_token=sandbox.private_app_token, host=server.url)


@pytest.fixture
def make_sandbox() -> Callable[..., HubSpotSandbox]:
    """Build a sandbox with test-friendly rate limits unless the test passes its own."""

    def make(**options: Any) -> HubSpotSandbox:
        options.setdefault("rate_limits", GENEROUS)
        return HubSpotSandbox(**options)

    return make
