"""Given a backfill into a fresh PostgreSQL store, when the page path's tables have
grown since their last analyze, then they are analyzed once, so the planner keeps
reading pages by index (without statistics it filtered every row of a kind)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers.flow import drain, post
from helpers.signing import contact_event, interaction_event
from sqlalchemy import text

from hub import worker as worker_module
from hub.app import create_app
from hub.plugin import SourceRecord
from hub.store.db import transaction
from hub.store.page_statistics import READ_TABLES, WORKER_TABLES, refresh_statistics
from hub.worker import Worker

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _pending_changes(engine: Any) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT coalesce(min(n_mod_since_analyze), 0) FROM pg_stat_user_tables"
                    " WHERE schemaname = current_schema() AND relname = ANY(:names)"
                ),
                {"names": list(READ_TABLES)},
            ).scalar_one()
        )


def test_grown_page_tables_are_analyzed_once(make_runtime: Any) -> None:
    runtime = make_runtime()
    engine = runtime.engine
    if engine.dialect.name != "postgresql":
        assert refresh_statistics(engine) == []  # SQLite plans these reads by index
        return
    refresh_statistics(engine, floor=0, fraction=0.0)  # whatever earlier tests left
    records = [
        SourceRecord("contact", f"r-{i}", {"id": f"r-{i}", "emails": [f"p{i}@example.com"]}, AT)
        for i in range(60)
    ]
    with transaction(runtime.sessions) as session:
        runtime.pipeline.apply(session, runtime.connectors["events"], records)
        session.execute(text("SELECT pg_stat_force_next_flush()"))
    deadline = time.monotonic() + 5
    while _pending_changes(engine) < 60 and time.monotonic() < deadline:
        time.sleep(0.05)  # statistics reach the shared counters when the writer idles
    assert refresh_statistics(engine, floor=10) == sorted(READ_TABLES)
    assert refresh_statistics(engine, floor=10) == []


def test_tables_that_barely_changed_are_left_alone(make_runtime: Any) -> None:
    engine = make_runtime().engine
    refresh_statistics(engine, floor=0, fraction=0.0)
    assert refresh_statistics(engine) == []


def _changed_since_analyze(engine: Any, table: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT n_mod_since_analyze FROM pg_stat_user_tables"
                    " WHERE schemaname = current_schema() AND relname = :name"
                ),
                {"name": table},
            ).scalar_one()
        )


def test_a_worker_analyzes_the_tables_its_batches_grew_every_few_seconds(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Autovacuum may be off or lag a burst (it is off on the machines these figures
    come from): a worker looks after the statistics of what it reads by key, and looks
    at most every STATISTICS_EVERY_SECONDS, whatever the number of batches."""
    runtime = make_runtime()
    engine = runtime.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite plans these reads by index, without statistics")
    refresh_statistics(engine, floor=0, fraction=0.0, tables=WORKER_TABLES)
    client = create_app(runtime=runtime).test_client()
    for i in range(30):
        phone = f"+1415555{i:04d}"
        post(client, contact_event(f"c-{i}", phones=[phone], emails=[f"p{i}@example.com"]))
        post(client, interaction_event(f"call-{i}", contact={"phone": phone}))
    calls: list[tuple[str, ...]] = []

    def refresh(engine: Any, *, tables: tuple[str, ...]) -> list[str]:
        calls.append(tables)
        return refresh_statistics(engine, floor=10, tables=tables)

    monkeypatch.setattr(worker_module, "refresh_statistics", refresh)
    monkeypatch.setattr(worker_module, "STATISTICS_EVERY_SECONDS", 3600.0)
    worker = Worker(runtime, worker_id="w")
    deadline = time.monotonic() + 5
    while _changed_since_analyze(engine, "inbox_events") < 60 and time.monotonic() < deadline:
        time.sleep(0.05)  # intake's inserts reach the shared counters when it idles
    assert worker.run_once() > 0  # the first batch looks (and finds the inbox grown)
    assert calls == [WORKER_TABLES]
    assert _changed_since_analyze(engine, "inbox_events") == 0
    while worker.run_once():
        pass
    assert calls == [WORKER_TABLES]  # not again within the interval
    assert drain(runtime) == 0
