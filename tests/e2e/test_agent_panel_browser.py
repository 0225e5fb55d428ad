"""In a real browser: an agent keeps the panel open; a customer chats on WhatsApp, then
calls; the pop arrives live with the chat in the call's context."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from browser import headless_chromium, screenshot
from helpers.signing import contact_event, interaction_event, signed

from hub.app import create_app
from hub.panel.links import agent_link
from hub.sandbox_server import run_in_thread
from hub.worker import Worker

SECRET = "panel-secret-0123456789abcdef"


def send(base: str, payload: dict[str, Any]) -> None:
    body, headers = signed(payload)
    answer = requests.post(f"{base}/webhooks/events", data=body, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text


def wait_until(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_pop_arrives_live_in_the_agent_panel(make_runtime: Any) -> None:
    from selenium.webdriver.common.by import By

    runtime = make_runtime(pops={"panel_secret": SECRET})
    server = run_in_thread(create_app(runtime=runtime))
    stop = threading.Event()
    worker = threading.Thread(target=Worker(runtime, "e2e").run_forever, args=(stop,))
    worker.start()
    try:
        with headless_chromium() as driver:
            driver.get(agent_link(server.url, SECRET, "agent-7"))  # type: ignore[attr-defined]
            status = driver.find_element(By.ID, "status")  # type: ignore[attr-defined]
            wait_until(lambda: status.text == "live")
            phone = {"phone": "+1 415 555 0142"}
            send(server.url, contact_event("c-1", tier="vip"))
            send(
                server.url,
                {
                    **interaction_event(
                        "wa-1",
                        channel="whatsapp",
                        contact=phone,
                        occurred_at="2026-11-22T10:02:00Z",
                        summary="Where is my order 1234?",
                    ),
                    "type": "interaction.created",
                },
            )
            send(
                server.url,
                interaction_event(
                    "call-1",
                    contact=phone,
                    agent="agent-7",
                    occurred_at="2026-11-22T10:09:00Z",
                    summary="Calling about order 1234",
                ),
            )
            pops = driver.find_element(By.ID, "pops")  # type: ignore[attr-defined]
            wait_until(lambda: "Ada Lovelace" in pops.text)
            text = pops.text
            path = screenshot(driver, "agent-panel.png")
        assert "VIP" in text
        assert "Journey: whatsapp → voice" in text
        assert "Where is my order 1234?" in text  # the chat is in the call's context
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        stop.set()
        worker.join(timeout=10)
        server.stop()
