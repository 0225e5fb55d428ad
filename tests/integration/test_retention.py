"""Retention: raw requests, processed events and delivered pushes go after their days;
whatever may still be needed (pending or dead events, undelivered pushes) stays."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.config import base_config
from sqlalchemy import select, update

from hub import inbox, outbox, retention
from hub.cli import main
from hub.plugin import InboundEvent
from hub.runtime import Runtime
from hub.scheduler import RETENTION_JOB, build_scheduler, run_retention
from hub.settings import RetentionSettings
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import Delivery, InboxEvent, RawDelivery
from webhooks import RawRequest


def _request(runtime: Runtime, key: str, status: str, age_days: int) -> None:
    """One stored request carrying one event, received ``age_days`` ago."""
    raw = RawRequest.build("POST", "http://test/webhooks/events", {}, b'{"secret": "body"}')
    at = utcnow() - timedelta(days=age_days)
    with transaction(runtime.sessions) as session:
        inbox.store_events(
            session,
            connector="events",
            endpoint="",
            raw=raw,
            events=[InboundEvent(key, "contact.updated", {"data": {"id": key}})],
        )
        event_id = session.scalar(select(InboxEvent.id).where(InboxEvent.idempotency_key == key))
        delivery_id = session.scalar(
            select(InboxEvent.delivery_id).where(InboxEvent.id == event_id)
        )
        session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == event_id)
            .values(status=status, received_at=at)
        )
        session.execute(
            update(RawDelivery).where(RawDelivery.id == delivery_id).values(received_at=at)
        )


def _push(runtime: Runtime, key: str, status: str, age_days: int) -> None:
    with transaction(runtime.sessions) as session:
        outbox.enqueue(session, target="panel", idempotency_key=key, payload={"who": "x"})
        session.execute(
            update(Delivery)
            .where(Delivery.idempotency_key == key)
            .values(status=status, created_at=utcnow() - timedelta(days=age_days))
        )


def _left(runtime: Runtime) -> tuple[set[str], int, set[str]]:
    with runtime.read_sessions() as session:
        events = set(session.scalars(select(InboxEvent.idempotency_key)))
        raws = len(session.scalars(select(RawDelivery.id)).all())
        pushes = set(session.scalars(select(Delivery.idempotency_key)))
    return events, raws, pushes


def _fill(runtime: Runtime) -> None:
    _request(runtime, "old-done", "done", 100)
    _request(runtime, "old-ignored", "ignored", 100)
    _request(runtime, "old-dead", "dead", 100)
    _request(runtime, "old-pending", "pending", 100)
    _request(runtime, "recent-done", "done", 40)  # raw request past 30 days, event not 90
    _request(runtime, "new-done", "done", 1)
    _push(runtime, "old-delivered", "delivered", 40)
    _push(runtime, "old-dead-push", "dead", 40)
    _push(runtime, "new-delivered", "delivered", 1)


def test_prune_keeps_what_may_still_be_needed(runtime: Runtime) -> None:
    _fill(runtime)
    pruned = retention.prune(runtime.sessions, RetentionSettings())
    events, raws, pushes = _left(runtime)
    assert events == {"old-dead", "old-pending", "recent-done", "new-done"}
    assert raws == 3  # behind old-dead, old-pending and new-done
    assert pushes == {"old-dead-push", "new-delivered"}
    assert (pruned.inbox_events, pruned.raw_requests, pruned.deliveries) == (2, 3, 1)
    again = retention.prune(runtime.sessions, RetentionSettings())
    assert (again.inbox_events, again.raw_requests, again.deliveries) == (0, 0, 0)


def test_prune_works_through_a_backlog_in_chunks(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "CHUNK", 2)
    for n in range(5):
        _request(runtime, f"old-{n}", "done", 100)
    pruned = retention.prune(runtime.sessions, RetentionSettings())
    assert (pruned.inbox_events, pruned.raw_requests) == (5, 5)
    assert _left(runtime) == (set(), 0, set())


def test_the_scheduler_prunes_hourly_under_the_job_lock(runtime: Runtime) -> None:
    scheduler = build_scheduler(runtime)
    job = scheduler.get_job(RETENTION_JOB)
    assert job is not None
    assert job.trigger.interval == timedelta(minutes=60)
    _fill(runtime)
    pruned = run_retention(runtime, "scheduler-a")
    assert pruned is not None
    assert pruned.inbox_events == 2


def test_cli_prunes_and_reports(
    database_url: str, make_runtime: Any, tmp_path: Path, capsys: Any
) -> None:
    runtime = make_runtime()
    _fill(runtime)
    config = base_config(database_url)
    config["hub"]["retention"] = {"delivered_push_days": 60}
    path = tmp_path / "threadline.yaml"
    path.write_text(json.dumps(config))
    assert main(["--config", str(path), "retention", "prune"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "raw_requests": 3,
        "inbox_events": 2,
        "deliveries": 0,
    }
