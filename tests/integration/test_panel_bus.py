"""Pops crossing processes over PostgreSQL NOTIFY: a pop that fits travels in the
notification itself (no query on the web side); a larger one by its delivery id."""

from __future__ import annotations

from typing import Any

import pytest

from hub.panel_bus import INLINE_BYTES, PostgresBus


def _bus(make_runtime: Any, loads: list[int]) -> PostgresBus:
    runtime = make_runtime()
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("cross-process pops use PostgreSQL LISTEN/NOTIFY; SQLite is one process")
    dsn = runtime.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def load(delivery_id: int) -> tuple[str, dict[str, Any]]:
        loads.append(delivery_id)
        return "agent:a-1", {"delivery_id": delivery_id, "from": "store"}

    return PostgresBus(dsn, load)


def test_a_pop_that_fits_arrives_without_a_query(make_runtime: Any) -> None:
    loads: list[int] = []
    listener, publisher = _bus(make_runtime, loads), _bus(make_runtime, loads)
    try:
        inbox = listener.subscribe("agent:a-1")
        assert listener.wait_listening(5)
        publisher.publish("agent:a-1", {"delivery_id": 7, "contact": {"name": "Ada"}})
        assert inbox.get(timeout=5) == {"delivery_id": 7, "contact": {"name": "Ada"}}
        assert loads == []
    finally:
        listener.close()
        publisher.close()


def test_a_pop_too_large_for_a_notification_is_read_from_the_store(make_runtime: Any) -> None:
    loads: list[int] = []
    listener, publisher = _bus(make_runtime, loads), _bus(make_runtime, loads)
    try:
        inbox = listener.subscribe("agent:a-1")
        assert listener.wait_listening(5)
        big = {"delivery_id": 8, "notes": "x" * INLINE_BYTES}
        publisher.publish("agent:a-1", big)  # PostgreSQL would refuse it whole
        assert inbox.get(timeout=5) == {"delivery_id": 8, "from": "store"}
        assert loads == [8]
    finally:
        listener.close()
        publisher.close()
