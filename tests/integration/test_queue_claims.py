"""Given a queue (inbox or outbox) holding many finished rows and a few pending ones,
when a worker claims, then the store reads the pending rows alone instead of walking
every finished row still kept until retention: on PostgreSQL through the queue's
partial index of pending ids, on SQLite through (status, next_attempt_at)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, insert, text, update
from sqlalchemy.dialects import postgresql, sqlite

from hub import leases
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import Delivery, InboxEvent

FINISHED = 3000
PENDING = 5


def inbox_row(n: int) -> dict[str, Any]:
    return {"connector": "desk", "idempotency_key": f"event-{n}", "event_type": "contact.updated"}


def outbox_row(n: int) -> dict[str, Any]:
    return {"target": "desk.pop", "idempotency_key": f"pop-{n}"}


QUEUES = [
    pytest.param(InboxEvent, inbox_row, "ix_inbox_events", id="inbox"),
    pytest.param(Delivery, outbox_row, "ix_deliveries", id="outbox"),
]


def fill_and_finish(runtime: Any, model: Any, row: Any) -> None:
    """A burst of rows, all pending when the store last looked at the table (a queue's
    statistics always lag its churn), then all but the last few finished."""
    due = utcnow() - timedelta(seconds=5)
    rows = [
        {**row(n), "payload": {"n": n}, "next_attempt_at": due} for n in range(FINISHED + PENDING)
    ]
    with transaction(runtime.sessions) as session:
        session.execute(insert(model), rows)
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect() as connection:
            connection.execute(text(f"ANALYZE {model.__tablename__}"))
            connection.commit()
    finished = "done" if model is InboxEvent else "delivered"
    with transaction(runtime.sessions) as session:
        session.execute(update(model).where(model.id <= FINISHED).values(status=finished))


def driver_params(compiled: Any, connection: Connection) -> dict[str, Any]:
    """The compiled statement's parameters as the driver takes them."""
    processed = {}
    for key, value in compiled.construct_params().items():
        process = compiled.binds[key].type.bind_processor(connection.dialect)
        processed[key] = process(value) if process else value
    return processed


def claim_plan(connection: Connection, model: Any) -> tuple[str, dict[str, Any] | None]:
    """The store's plan for a claim, and on PostgreSQL the plan as executed."""
    on_postgresql = connection.dialect.name == "postgresql"
    stmt = leases.claim_statement(
        model,
        worker_id="w1",
        limit=100,
        lease=timedelta(seconds=60),
        returning=(model.status,),
        skip_locked=on_postgresql,
    )
    compiled = stmt.compile(dialect=connection.dialect)
    params = driver_params(compiled, connection)
    if not on_postgresql:
        positional = tuple(params[name] for name in compiled.positiontup or ())
        rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional)
        return "\n".join(str(row[-1]) for row in rows), None
    # A worker repeats its claim; the driver prepares it and PostgreSQL soon settles on
    # a generic plan, blind to the parameter values. Plan it as that.
    connection.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    raw = connection.exec_driver_sql(
        f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}", params
    ).scalar_one()
    plan = raw if isinstance(raw, list) else json.loads(raw)
    return json.dumps(plan), plan[0]["Plan"]


def plan_nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node]
    for child in node.get("Plans", ()):
        found.extend(plan_nodes(child))
    return found


@pytest.mark.parametrize(("model", "row", "prefix"), QUEUES)
def test_a_claim_reads_the_pending_rows_alone(
    runtime: Any, model: Any, row: Any, prefix: str
) -> None:
    fill_and_finish(runtime, model, row)
    with transaction(runtime.sessions) as session:
        described, plan = claim_plan(session.connection(), model)
        session.rollback()  # EXPLAIN ANALYZE ran the claim; leave the rows unclaimed

    if plan is None:  # SQLite: a search on the status, never a scan of the table
        assert f"USING INDEX {prefix}_claim (status=?" in described, described
        assert "SCAN" not in described, described
        return
    scans = [node for node in plan_nodes(plan) if node.get("Index Name") == f"{prefix}_pending"]
    assert scans, described
    # The walk touched the five pending rows, not the three thousand finished ones.
    assert sum(node.get("Actual Rows", 0) for node in scans) == PENDING
    assert all(node.get("Rows Removed by Filter", 0) == 0 for node in scans)


@pytest.mark.parametrize(("model", "row", "prefix"), QUEUES)
def test_a_claim_still_takes_the_oldest_due_rows(
    runtime: Any, model: Any, row: Any, prefix: str
) -> None:
    fill_and_finish(runtime, model, row)
    with transaction(runtime.sessions) as session:
        first = leases.claim_rows(
            session, model, worker_id="w1", limit=3, lease=timedelta(seconds=60), returning=()
        )
        rest = leases.claim_rows(
            session, model, worker_id="w2", limit=10, lease=timedelta(seconds=60), returning=()
        )
    assert [row.id for row in first] == [FINISHED + 1, FINISHED + 2, FINISHED + 3]
    assert [row.id for row in rest] == [FINISHED + 4, FINISHED + 5]


def test_the_claim_names_pending_as_a_literal_on_both_stores() -> None:
    """Planners match a partial index's WHERE against the query's text: a bound
    parameter for the status would hide that the claim stays inside the index."""
    stmt = leases.claim_statement(
        InboxEvent,
        worker_id="w1",
        limit=10,
        lease=timedelta(seconds=60),
        returning=(),
        skip_locked=False,
    )
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert "status = 'pending'" in str(stmt.compile(dialect=dialect))
