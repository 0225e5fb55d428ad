"""SQLite: a page's rows inserted or updated with the driver's executemany directly.

SQLAlchemy's Core executemany rebuilds a parameter dictionary per row and runs every
column's bind processor through its generic machinery: profiled on the identity bench
that cost more than twice what SQLite spent inserting the rows. Here each row becomes a
tuple, the same bind processors (the columns' own: UTC datetimes as SQLAlchemy's
SQLite text, JSON through the dialect's serializer) applied in one comprehension, and
the statement text is built once per table and columns. What is stored is what the
Core statement stores; a test holds the two to that
(tests/integration/test_bulk_writes.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.orm import Session


def insert_many(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts_on: tuple[str, ...] = (),
) -> None:
    """Insert ``rows`` (every row with the same keys, every column without a database
    default given); ``skip_conflicts_on``: ON CONFLICT DO NOTHING on those columns."""
    if not rows:
        return
    columns = tuple(rows[0])
    dialect = session.get_bind().dialect
    statement, processors = _insert(dialect, table, columns, skip_conflicts_on)
    _run(session, statement, processors, columns, rows)


def update_many(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, key: str
) -> None:
    """Update the rows whose ``id`` is each row's ``key`` value with the row's other
    values (every row with the same keys), in order: the last row for an id wins."""
    if not rows:
        return
    columns = tuple(c for c in rows[0] if c != key)
    statement, processors = _update(session.get_bind().dialect, table, columns)
    _run(session, statement, processors, columns, rows, key_column=key)


def _run(
    session: Session,
    statement: str,
    processors: tuple[Callable[[Any], Any] | None, ...],
    columns: tuple[str, ...],
    rows: Sequence[Mapping[str, Any]],
    key_column: str | None = None,
) -> None:
    pairs = [
        (c, _memo(p) if p is not None else p) for c, p in zip(columns, processors, strict=True)
    ]
    if key_column is not None:
        pairs.append((key_column, None))  # the id: a plain value
    params = [tuple(p(row[c]) if p else row[c] for c, p in pairs) for row in rows]
    session.connection().exec_driver_sql(statement, params)


def _memo(processor: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``processor`` remembering its last value: most rows of a page carry the same
    ``now`` in their time columns (the same object), and formatting it cost more
    than inserting the row."""
    last: list[Any] = [_UNSET, None]

    def run(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, processor(value)
        return last[1]

    return run


_UNSET = object()


@cache
def _insert(
    dialect: Dialect, table: Table, columns: tuple[str, ...], conflict: tuple[str, ...]
) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    quote = dialect.identifier_preparer
    missing = [
        c.name
        for c in table.columns
        if c.name not in columns and c.default is not None and c.server_default is None
    ]
    if missing:  # Core would fill them in; callers here pass whole rows
        raise ValueError(f"rows for {table.name} leave out {', '.join(missing)}")
    names = ", ".join(quote.quote(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {quote.format_table(table)} ({names}) VALUES ({marks})"  # noqa: S608 - names from the models
    if conflict:
        statement += f" ON CONFLICT ({', '.join(quote.quote(c) for c in conflict)}) DO NOTHING"
    return statement, bind_processors(dialect, table, columns)


@cache
def _update(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    quote = dialect.identifier_preparer
    assigned = ", ".join(f"{quote.quote(c)} = ?" for c in columns)
    statement = f"UPDATE {quote.format_table(table)} SET {assigned} WHERE id = ?"  # noqa: S608 - names from the models
    return statement, bind_processors(dialect, table, columns)


def bind_processors(
    dialect: Dialect, table: Table, columns: tuple[str, ...]
) -> tuple[Callable[[Any], Any] | None, ...]:
    """Each column's bind processor on ``dialect`` (None: the value goes as it is)."""
    return tuple(table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
