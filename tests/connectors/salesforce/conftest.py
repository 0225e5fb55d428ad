"""Fixtures: a small seeded sandbox on loopback and the real simple-salesforce client."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sf_clock import FakeClock
from simple_salesforce import Salesforce

from connectors.salesforce.sandbox import SalesforceSandbox, sandbox_session
from hub.sandbox_server import RunningServer, run_in_thread


@pytest.fixture(autouse=True)
def _quiet_werkzeug() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SalesforceSandbox:
    counts = {
        "User": 3,
        "Account": 10,
        "Contact": 450,
        "Lead": 20,
        "Case": 15,
        "Task": 20,
        "Event": 5,
    }
    return SalesforceSandbox(seed=7, counts=counts, clock=clock)


class SwitchApp:
    """A WSGI app forwarding to whichever sandbox the current test mounted.

    One loopback server serves the whole session: stopping a werkzeug server waits
    for its 0.5 s poll interval, which would dominate a per-test server's cost.
    """

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def _loopback() -> Iterator[tuple[SwitchApp, RunningServer]]:
    switch = SwitchApp()
    running = run_in_thread(switch)
    yield switch, running
    running.stop()


@pytest.fixture
def mount(_loopback: tuple[SwitchApp, RunningServer]) -> Callable[[SalesforceSandbox], str]:
    """Serve another sandbox on the shared loopback server; returns its base URL."""
    switch, running = _loopback

    def _mount(other: SalesforceSandbox) -> str:
        switch.app = other.app
        return running.url

    return _mount


@pytest.fixture
def server(sandbox: SalesforceSandbox, _loopback: tuple[SwitchApp, RunningServer]) -> RunningServer:
    switch, running = _loopback
    switch.app = sandbox.app
    return running


@pytest.fixture
def sf(sandbox: SalesforceSandbox, server: RunningServer) -> Salesforce:
    """A client logged in over SOAP, exactly as production code would build it."""
    creds = sandbox.credentials
    return Salesforce(
        username=creds.username,
        password=creds.password,
        security_token=creds.security_token,
        session=sandbox_session(server.url),
    )
