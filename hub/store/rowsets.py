"""Many rows in one short statement on PostgreSQL: the worker batch's inserts and
``IN`` lists.

SQLAlchemy sends an executemany with RETURNING as multi-row ``VALUES`` ("insert many
values") and an ``IN`` list as one placeholder per value. On PostgreSQL either makes a
statement tens of kilobytes long that psycopg cannot cache (it caches statements under
4 KB and 50 parameters) and parses again, with a regular expression, every time:
profiled on the pipeline bench that parsing was a fifth of the worker's CPU. Here the
rows travel as one JSON document (one ``json.dumps``, in C) read back with
``jsonb_populate_recordset``, and a list as one array parameter (``= ANY(...)``), so
the statement text is short and the same every time. The document is read as
``jsonb``, not ``json``: every JSON column is JSONB, and ``json_populate_recordset``
parses each nested value a second time to store it (a worker batch's 50 outbox rows,
80 KB of pop payloads: 2.2 -> 1.6 ms of server CPU, median of 8).

SQLite keeps SQLAlchemy's executemany and ``IN`` (short statements, no parse cost).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam, func, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from hub.store.coltypes import UTCDateTime


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def among(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """``column IN values``: one array parameter on PostgreSQL."""
    values = list(values)
    if is_postgresql(session):
        return column == any_(bindparam(None, values, type_=postgresql.ARRAY(column.type)))
    result: ColumnElement[bool] = column.in_(values)
    return result


def among_param(column: Any, name: str, dialect: str, *, alone: bool = False) -> Any:
    """:func:`among` for a statement built once and run many times: ``column IN
    :name``, bound at execution. On PostgreSQL one array parameter; ``alone`` (the
    list holds one value) compares it as one value, since the planner prices
    ``= ANY($1)`` as ten lookups and a prepared statement that mostly sees one value
    then never settles on its generic plan and is planned again at every execution.

    On SQLite the list goes as one JSON text read by ``json_each``: an expanding
    ``IN (?, ?, …)`` is a new statement text for every list length, and Python's
    sqlite3 keeps 128 prepared statements per connection, so a backfill's pages of
    varying sizes filled the cache with large ones (the hub's RSS grew 131 -> 229 MB
    over a 100k-record Salesforce backfill)."""
    if dialect == "postgresql" and alone:
        return column == bindparam(name)
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    listed = func.json_each(bindparam(name, type_=JSON)).table_valued("value")
    return column.in_(select(listed.c.value))


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    returning_ids: bool = False,
    skip_conflicts_on: Sequence[str] = (),
) -> list[int]:
    """Insert ``rows`` (every row with the same keys) in the session's transaction.

    With ``returning_ids``, returns the new rows' ids in the order of ``rows``; with
    ``skip_conflicts_on``, rows that collide on those columns are skipped (ON CONFLICT
    DO NOTHING) and only the new ids come back, in no particular order. Columns a row
    leaves out get their Python-side defaults, as with SQLAlchemy. One difference: on
    PostgreSQL a ``None`` in a JSON column is SQL NULL (SQLAlchemy writes JSON ``null``);
    no caller passes one.
    """
    if not rows:
        return []
    if is_postgresql(session):
        return _insert_pg(session, table, rows, returning_ids, skip_conflicts_on)
    stmt: Any = insert(table)
    if skip_conflicts_on:
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=skip_conflicts_on)
    if not returning_ids and not skip_conflicts_on:
        session.execute(stmt, list(rows))
        return []
    stmt = stmt.returning(table.c.id, sort_by_parameter_order=not skip_conflicts_on)
    return list(session.scalars(stmt, list(rows)).all())


def _insert_pg(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning_ids: bool,
    skip_conflicts_on: Sequence[str],
) -> list[int]:
    names, document = rows_document(table, rows)
    statement = _statement(table, names, returning_ids, tuple(skip_conflicts_on))
    result = session.execute(text(statement), {"rows": document})
    if not (returning_ids or skip_conflicts_on):
        return []
    # The rows are inserted in ORDER BY ordinality, so the sequence hands out their
    # ids in that order (the same guarantee SQLAlchemy's own "insertmanyvalues" relies
    # on for PostgreSQL: InsertmanyvaluesSentinelOpts.ANY_AUTOINCREMENT).
    return sorted(result.scalars().all())


def rows_document(
    table: Table, rows: Sequence[Mapping[str, Any]], *, defaults: bool = True
) -> tuple[tuple[str, ...], str]:
    """PostgreSQL: ``rows`` (every row with the same keys) as one JSON document, with
    (``defaults``, for an insert) the Python-side defaults of the columns they leave
    out; returns (its columns, the document) for :func:`insert_sql` or
    :func:`update_sql`."""
    columns = list(rows[0])
    filled = _python_defaults(table, columns) if defaults else {}
    columns = [*columns, *filled]
    times = [c for c in columns if c in _time_columns(table)]
    document = json.dumps([_json_row(row, filled, times) for row in rows], separators=(",", ":"))
    return tuple(columns), document


@cache
def _statement(
    table: Table, columns: tuple[str, ...], returning: bool, conflict: tuple[str, ...]
) -> str:
    statement = insert_sql(table, columns, conflict, "rows")
    if returning or conflict:
        statement += " RETURNING id"
    return statement


@cache
def insert_sql(
    table: Table, columns: tuple[str, ...], conflict: tuple[str, ...], parameter: str
) -> str:
    """``INSERT`` of the rows of the JSON document bound to ``:parameter`` (see
    :func:`rows_document`), in the document's order; ``conflict``: ON CONFLICT DO
    NOTHING on those columns. No RETURNING: it can stand in a ``WITH``."""
    quote = _PG_QUOTE.quote
    name = _PG_QUOTE.format_table(table)
    names = ", ".join(quote(c) for c in columns)
    picked = ", ".join(f"r.{quote(c)}" for c in columns)
    statement = (
        f"INSERT INTO {name} ({names}) SELECT {picked}"  # noqa: S608 - names from the models
        f" FROM jsonb_populate_recordset(NULL::{name}, CAST(:{parameter} AS jsonb))"
        " WITH ORDINALITY AS r ORDER BY r.ordinality"
    )
    if conflict:
        statement += f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING"
    return statement


@cache
def update_sql(table: Table, columns: tuple[str, ...], key: str, parameter: str) -> str:
    """``UPDATE`` of ``columns`` from the rows of the JSON document bound to
    ``:parameter``, matched on ``key``; ``key`` must be unique among the rows (with
    two rows for one key PostgreSQL would apply either)."""
    quote = _PG_QUOTE.quote
    name = _PG_QUOTE.format_table(table)
    assigned = ", ".join(f"{quote(c)} = r.{quote(c)}" for c in columns if c != key)
    return (
        f"UPDATE {name} AS t SET {assigned}"  # noqa: S608 - names from the models
        f" FROM jsonb_populate_recordset(NULL::{name}, CAST(:{parameter} AS jsonb)) AS r"
        f" WHERE t.{quote(key)} = r.{quote(key)}"
    )


def _python_defaults(table: Table, present: Sequence[str]) -> dict[str, Any]:
    """The Python-side defaults of the columns a row leaves out, as SQLAlchemy's
    insert fills them in (``default=utcnow``, ``default=dict``, ``default="pending"``)."""
    out: dict[str, Any] = {}
    for column in table.columns:
        default: Any = column.default
        if column.name in present or default is None:
            continue
        if default.is_callable:
            out[column.name] = default.arg(None)
        elif default.is_scalar:
            out[column.name] = default.arg
    return out


def _json_row(row: Mapping[str, Any], defaults: dict[str, Any], times: list[str]) -> Any:
    full = {**row, **defaults}
    for name in times:
        full[name] = _utc_text(full[name])
    return full


_PG_QUOTE = postgresql.dialect().identifier_preparer


@cache
def _time_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, UTCDateTime))


def _utc_text(value: datetime | None) -> str | None:
    """What :class:`~hub.store.coltypes.UTCDateTime` binds, as JSON text."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # the hub's own times are UTC already: skip the convert
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
    return value.isoformat()
