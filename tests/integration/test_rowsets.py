"""hub.store.rowsets writes what SQLAlchemy's executemany writes, on both stores: the
ids in the order of the rows, the columns' Python-side defaults, UTC times, skipped
conflicts; and ``among`` selects what ``IN`` selects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import StatementError

from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import Delivery, Pop
from hub.store.rowsets import among, among_param, insert_rows

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _table(model: type) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def _pop(key: str, at: datetime = AT) -> dict[str, object]:
    return {"connector": "events", "trigger_key": key, "trigger": "call", "triggered_at": at}


def test_insert_rows_returns_ids_in_row_order_and_fills_defaults(runtime: Runtime) -> None:
    keys = [f"k-{n}" for n in (5, 1, 9, 3, 7, 2)]
    paris = timezone(timedelta(hours=1))
    with transaction(runtime.sessions) as session:
        ids = insert_rows(
            session,
            _table(Pop),
            [_pop(k, AT.astimezone(paris)) for k in keys],
            returning_ids=True,
        )
    with runtime.read_sessions() as session:
        pops = {p.id: p for p in session.scalars(select(Pop))}
    assert [pops[i].trigger_key for i in ids] == keys
    assert all(p.status == "pending" for p in pops.values())  # the column's default
    assert all(p.triggered_at == AT for p in pops.values())
    assert all(p.received_at is not None and p.created_at is not None for p in pops.values())


def test_insert_rows_refuses_a_naive_time(runtime: Runtime) -> None:
    with (
        pytest.raises((ValueError, StatementError), match="naive"),
        transaction(runtime.sessions) as session,
    ):
        insert_rows(session, _table(Pop), [_pop("k", AT.replace(tzinfo=None))])


def test_insert_rows_skips_conflicts_and_returns_only_new_ids(runtime: Runtime) -> None:
    def row(key: str) -> dict[str, object]:
        return {"target": "panel", "idempotency_key": key, "payload": {"a": [1, {"b": None}]}}

    with transaction(runtime.sessions) as session:
        first = insert_rows(
            session, _table(Delivery), [row("p-1")], skip_conflicts_on=("target", "idempotency_key")
        )
        again = insert_rows(
            session,
            _table(Delivery),
            [row("p-1"), row("p-2"), row("p-2")],
            skip_conflicts_on=("target", "idempotency_key"),
        )
    assert len(first) == 1
    assert len(again) == 1
    with runtime.read_sessions() as session:
        deliveries = session.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert [d.idempotency_key for d in deliveries] == ["p-1", "p-2"]
    assert deliveries[1].id == again[0]
    assert deliveries[0].payload == {"a": [1, {"b": None}]}
    assert deliveries[0].status == "pending"


def test_among_selects_what_in_selects(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        insert_rows(session, _table(Pop), [_pop(f"k-{n}") for n in range(5)])
    with runtime.read_sessions() as session:
        found = session.scalars(
            select(Pop.trigger_key).where(among(session, Pop.trigger_key, ["k-1", "k-3", "x"]))
        ).all()
        none = session.scalars(select(Pop.id).where(among(session, Pop.id, []))).all()
    assert sorted(found) == ["k-1", "k-3"]
    assert none == []


def test_among_param_is_one_statement_text_whatever_the_list_length(runtime: Runtime) -> None:
    """A statement built once with ``among_param`` selects what ``IN`` selects for any
    list, and sends the same SQL text for every length (so the driver's statement cache
    holds one statement, not one per page size)."""
    from sqlalchemy import event

    with transaction(runtime.sessions) as session:
        insert_rows(session, _table(Pop), [_pop(f"k-{n}") for n in range(5)])
    dialect = runtime.engine.dialect.name
    query = select(Pop.trigger_key).where(among_param(Pop.trigger_key, "keys", dialect))
    texts: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        texts.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", seen)
    try:
        with runtime.read_sessions() as session:
            found = [
                sorted(session.scalars(query, {"keys": keys}).all())
                for keys in (["k-1"], ["k-1", "k-3", "x"], [f"k-{n}" for n in range(40)], [])
            ]
    finally:
        event.remove(runtime.engine, "before_cursor_execute", seen)
    assert found == [["k-1"], ["k-1", "k-3"], [f"k-{n}" for n in range(5)], []]
    selects = {t for t in texts if t.lstrip().upper().startswith("SELECT")}
    assert len(selects) == 1, texts
