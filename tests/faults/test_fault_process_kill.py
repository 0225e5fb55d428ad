"""Given the all-in-one process (``threadline serve``) under a stream of signed webhooks,
when it is SIGKILLed mid-intake and started again, then every event it had acknowledged
is in the store, every event is processed once, and nothing is applied twice."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import HubProcess, Sender, wait_for
from helpers.config import base_config
from sqlalchemy import func, select

from hub.runtime import Runtime
from hub.store.models import Contact, Delivery, InboxEvent, Interaction, Pop, SourceRecord

TOTAL = 240  # 120 contacts, each with one call that pops
pytestmark = pytest.mark.slow


def serve_config(database_url: str) -> dict[str, Any]:
    config = base_config(database_url)
    config["logging"] = {"level": "WARNING", "format": "json"}
    config["hub"]["scheduler_enabled"] = False
    # A killed worker's leases must run out before another takes its batch.
    config["hub"]["worker"]["lease_seconds"] = 2
    return config


def inbox_keys(runtime: Runtime) -> dict[str, str]:
    with runtime.read_sessions() as session:
        rows = session.execute(select(InboxEvent.idempotency_key, InboxEvent.status)).all()
    assert len(rows) == len({key for key, _ in rows}), "an event was stored twice"
    return dict(rows)


def rows(runtime: Runtime, model: Any, *where: Any) -> int:
    with runtime.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_serve_killed_mid_intake_keeps_every_ack_and_applies_each_event_once(
    make_runtime: Any, database_url: str, tmp_path: Path
) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    runtime = make_runtime()  # our window on the same store
    hub = HubProcess(serve_config(database_url), tmp_path)
    hub.start()
    sender = Sender(f"{hub.url}/webhooks/events", TOTAL, threads=4).start()
    try:
        wait_for(lambda: len(sender.acked_snapshot()) >= TOTAL // 3, 30, "a third acknowledged")
        hub.kill()
        acked_before_kill = sender.acked_snapshot()
        # Durable means durable: read the store while no hub process is running.
        stored = inbox_keys(runtime)
        lost = acked_before_kill - stored.keys()
        assert not lost, f"{len(lost)} acknowledged event(s) were lost: {sorted(lost)[:5]}"
        assert len(acked_before_kill) < TOTAL, "the kill landed after the load finished"
        assert list(stored.values()).count("done") < len(stored) or len(stored) < TOTAL

        hub.start()  # the sender has been retrying all along, as vendors do
        sender.join(timeout=60)
        wait_for(
            lambda: rows(runtime, InboxEvent, InboxEvent.status == "done") == TOTAL,
            40,
            "every event processed",
        )
    finally:
        hub.stop()

    stored = inbox_keys(runtime)
    assert set(stored) == {f"evt-{i}" for i in range(TOTAL)}
    assert set(stored.values()) == {"done"}
    assert sender.count("200") >= TOTAL  # re-sent events may be acked again as duplicates
    calls = TOTAL // 2
    assert rows(runtime, SourceRecord, SourceRecord.object_type == "contact") == calls
    assert rows(runtime, Interaction) == calls
    assert rows(runtime, Contact, Contact.merged_into_id.is_(None)) == calls
    assert rows(runtime, Pop) == calls  # one pop per call, never a second one
    assert rows(runtime, Delivery) == calls
