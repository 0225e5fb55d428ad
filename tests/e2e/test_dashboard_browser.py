"""In a real browser: an operator signs in to the dashboard with a token, finds an
event that died while the CRM was down, replays it, and sees it done once a worker
has run, without reloading the page (the dashboard refreshes itself)."""

from __future__ import annotations

import time
from typing import Any, ClassVar

import requests
from browser import headless_chromium, screenshot
from helpers.config import REPO, TEST_SECRET
from helpers.signing import contact_event, signed

from connectors.standard_webhooks.connector import StandardWebhooksConnector
from hub.app import create_app
from hub.plugin import InboundEvent
from hub.registry import register_connector_type
from hub.sandbox_server import run_in_thread
from hub.store.db import transaction
from hub.tokens import create_token
from hub.worker import Worker

SESSION_SECRET = "dashboard-session-secret-0123456789abcdef"


class FlakyCrm(StandardWebhooksConnector):
    """standard_webhooks whose downstream is down until the test says otherwise."""

    type_name = "flaky_dashboard_test"
    down: ClassVar[bool] = True

    def interpret(self, event: InboundEvent) -> Any:
        if type(self).down:
            raise RuntimeError("CRM unavailable")
        return super().interpret(event)


def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    """Poll ``predicate``; the page refreshes itself, so an element found a moment ago
    may be gone (stale) when read: that counts as "not yet"."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except (StaleElementReferenceException, NoSuchElementException):
            pass
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_operator_replays_a_dead_event_from_the_dashboard(make_runtime: Any) -> None:
    from selenium.webdriver.common.by import By

    register_connector_type(FlakyCrm)
    FlakyCrm.down = True
    runtime = make_runtime(
        admin={"session_secret": SESSION_SECRET, "refresh_seconds": 1},
        hub={
            "worker": {
                "max_attempts": 1,
                "backoff_base_seconds": 0.01,
                "backoff_max_seconds": 0.05,
                "poll_interval_seconds": 0.05,
                "batch_size": 50,
                "lease_seconds": 30,
            }
        },
        connectors=[
            {
                "name": "events",
                "type": "flaky_dashboard_test",
                "settings": {"secret": TEST_SECRET},
                "mappings": {
                    kind: str(REPO / f"mappings/standard_webhooks/{kind}.yaml")
                    for kind in ("contact", "interaction")
                },
            }
        ],
    )
    with transaction(runtime.sessions) as session:
        _, token = create_token(session, role="operator", name="night-shift", actor="test")
    server = run_in_thread(create_app(runtime=runtime))
    try:
        body, headers = signed(contact_event("c-1"))
        sent = requests.post(
            f"{server.url}/webhooks/events", data=body, headers=headers, timeout=10
        )
        assert sent.status_code == 200
        worker = Worker(runtime, "e2e")
        worker.run_once()  # the CRM is down: max_attempts 1, so the event is dead
        with headless_chromium() as driver:
            d: Any = driver
            d.get(f"{server.url}/admin/inbox?status=dead")
            d.find_element(By.ID, "token").send_keys(token)
            d.find_element(By.ID, "sign-in").click()
            wait_until(lambda: "night-shift (operator)" in d.page_source)
            d.get(f"{server.url}/admin/inbox?status=dead")

            def row_text() -> str:
                return str(d.find_element(By.ID, "event-1").text)

            wait_until(lambda: "dead" in row_text() and "CRM unavailable" in row_text())
            screenshot(d, "dashboard-dead-letter.png")
            FlakyCrm.down = False  # the CRM is back

            def click_replay() -> bool:  # re-found each time: the page refreshes itself
                d.find_element(By.ID, "event-1").find_element(By.CLASS_NAME, "replay").click()
                return True

            wait_until(click_replay)
            wait_until(lambda: "Replayed 1 event(s)." in d.page_source)
            d.get(f"{server.url}/admin/inbox")
            wait_until(lambda: "pending" in d.find_element(By.ID, "event-1").text)
            assert worker.run_once() == 1
            # No reload from the test: the page's own refresh shows the new state.
            wait_until(lambda: "done" in d.find_element(By.ID, "event-1").text, timeout=10)
            path = screenshot(d, "dashboard-replayed.png")
            d.get(f"{server.url}/admin/")
            wait_until(lambda: "Overview" in d.page_source)
            screenshot(d, "dashboard-overview.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        FlakyCrm.down = True
        server.stop()
