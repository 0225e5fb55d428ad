"""Given a backfill into a fresh PostgreSQL store, when the page path's tables have
grown since their last analyze, then they are analyzed once, so the planner keeps
reading pages by index (without statistics it filtered every row of a kind)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from hub.plugin import SourceRecord
from hub.store.db import transaction
from hub.store.page_statistics import READ_TABLES, refresh_statistics

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
