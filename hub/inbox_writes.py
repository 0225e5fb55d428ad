"""Writing verified requests into the inbox, many at a time: intake's group commit
(``hub/group_commit.py``) hands its batches here.

A batch is written in two steps. :func:`prepare` turns one request into the values
its rows will hold (JSON text, the body as stored, times in the store's format), in
the request's own thread and before it queues. :func:`store_batch` then numbers the
rows and sends them. Only the second step runs in the committer, which is the one
thread of a web process writing at a time (on SQLite, of every web process), so the
work a request can do alone stays out of the line every request waits in.

Both steps work on the driver's own connection: a batch is a few rows, and
SQLAlchemy's set-up per statement cost more CPU than the store spent on it.
Driver errors still surface as SQLAlchemy's (``hub.store.db.driver_errors``).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, Dialect, Table

from hub.plugin import InboundEvent
from hub.store.db import driver_errors
from hub.store.models import InboxEvent, RawDelivery
from hub.store.sqlite_rows import bind_processors
from webhooks import RawRequest

#: Headers never kept with a stored request: credentials of the sender.
DROP_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class Incoming:
    """One verified request to store: its connector, endpoint, raw bytes and events."""

    connector: str
    endpoint: str
    raw: RawRequest
    events: Sequence[InboundEvent]


@dataclass(frozen=True)
class Prepared:
    """A request's rows, ready but for the ids the batch gives them.

    ``request`` and ``events`` are in the form the dialect's write takes: on SQLite the
    column values of ``raw_deliveries`` and of each new ``inbox_events`` row; on
    PostgreSQL the JSON text of each, without the batch's numbering.
    """

    incoming: Incoming
    unique: int  # events after dropping a key the request repeats
    request: Any
    events: tuple[Any, ...]


def prepare(dialect: Dialect, item: Incoming) -> Prepared:
    """``item``'s rows for ``dialect`` (see the module doc: run in the request's thread)."""
    unique = {e.key: e for e in item.events}  # a key twice in one request counts once
    request: Any
    events: tuple[Any, ...]
    if dialect.name == "postgresql":
        request, events = _pg_rows(item, unique)
    else:
        request, events = _sqlite_rows(_sqlite_binders(dialect), item, unique)
    return Prepared(item, len(unique), request, events)


def store_batch(
    conn: Connection, items: Sequence[Incoming | Prepared], *, notify: str = ""
) -> list[tuple[int, int]]:
    """Insert many requests and their events; ``notify`` names a channel to signal.

    Returns ``(stored, duplicates)`` per item, in order. Events whose
    ``(connector, key)`` is already stored, by an earlier request or earlier in this
    batch, are skipped; an item whose events are all duplicates leaves nothing behind,
    not even its raw request.

    On PostgreSQL the batch is one statement, atomic on its own, so it may run in
    autocommit mode: one round trip stores and commits every request and queues the
    wake-up (``pg_notify``, sent at commit). On SQLite it is one INSERT per table
    inside the caller's transaction (which must hold the write lock), and ``notify``
    is ignored (there is no other host to wake).
    """
    ready = [i if isinstance(i, Prepared) else prepare(conn.dialect, i) for i in items]
    todo = [(n, item) for n, item in enumerate(ready) if item.events]
    results = [(0, 0)] * len(items)
    if not todo:
        return results
    batch = [item for _, item in todo]
    with driver_errors(conn), closing(driver_cursor(conn)) as cursor:
        if conn.dialect.name == "postgresql":
            stored = _store_pg(cursor, batch, notify)
        else:
            stored = _store_sqlite(cursor, batch)
    for (n, item), count in zip(todo, stored, strict=True):
        results[n] = (count, len(item.incoming.events) - count)
    return results


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the driver's own connection under ``conn``, for the batch writes
    (tests wrap this to make the store fail or stall mid-write)."""
    driver: Any = conn.connection.driver_connection
    return driver.cursor()


def kept_headers(raw: RawRequest) -> dict[str, str]:
    return {k: v for k, v in raw.headers.items() if k not in DROP_HEADERS}


# SQLite: the caller's transaction holds the one write lock (BEGIN IMMEDIATE), so the
# batch numbers its raw requests itself: no RETURNING, one executemany. A deferred
# transaction would get SQLITE_BUSY rather than a wrong id.


@dataclass(frozen=True)
class _Binders:
    """The columns' own bind conversions, so rows written here read back exactly as
    rows written through the ORM (JSON text, BLOB, the dialect's datetime format)."""

    json: Callable[[Any], Any]
    blob: Callable[[Any], Any]
    time: Callable[[Any], Any]


@cache
def _sqlite_binders(dialect: Dialect) -> _Binders:
    events, requests = cast(Table, InboxEvent.__table__), cast(Table, RawDelivery.__table__)
    (payload,) = bind_processors(dialect, events, ("payload",))
    body, received_at = bind_processors(dialect, requests, ("body", "received_at"))
    return _Binders(json=payload or _as_is, blob=body or _as_is, time=received_at or _as_is)


def _as_is(value: Any) -> Any:
    return value


def _sqlite_rows(
    bind: _Binders, item: Incoming, unique: dict[str, InboundEvent]
) -> tuple[tuple[Any, ...], tuple[tuple[Any, ...], ...]]:
    raw = item.raw
    when = bind.time(raw.received_at)
    request = (item.connector, item.endpoint, raw.method, raw.url,
               bind.json(kept_headers(raw)), bind.blob(raw.body), when)  # fmt: skip
    events = tuple(
        (
            item.connector,
            item.endpoint,
            key,
            event.event_type,
            bind.json(event.payload),
            "pending",
            0,
            when,
            when,
        )
        for key, event in unique.items()
    )
    return request, events


_SQLITE_ROWS = 500  # events per INSERT: under SQLite's bound-variable limit
_SQLITE_ROW = "(" + ", ".join(["?"] * 10) + ")"
_SQLITE_REQUESTS = (
    "INSERT INTO raw_deliveries (id, connector, endpoint, method, url, headers, body,"
    " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_SQLITE_EVENTS = (
    "INSERT INTO inbox_events (delivery_id, connector, endpoint, idempotency_key, event_type,"
    " payload, status, attempts, next_attempt_at, received_at) VALUES {values}"
    " ON CONFLICT (connector, idempotency_key) DO NOTHING RETURNING delivery_id"
)


def _store_sqlite(cursor: Any, batch: Sequence[Prepared]) -> list[int]:
    first = int(cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM raw_deliveries").fetchone()[0])
    ids = range(first, first + len(batch))
    cursor.executemany(
        _SQLITE_REQUESTS, [(d, *item.request) for d, item in zip(ids, batch, strict=True)]
    )
    rows = [(d, *row) for d, item in zip(ids, batch, strict=True) for row in item.events]
    inserted: Counter[int] = Counter()
    for start in range(0, len(rows), _SQLITE_ROWS):
        chunk = rows[start : start + _SQLITE_ROWS]
        statement = _SQLITE_EVENTS.format(values=", ".join([_SQLITE_ROW] * len(chunk)))
        flat = tuple(value for row in chunk for value in row)
        inserted.update(int(d) for (d,) in cursor.execute(statement, flat).fetchall())
    empty = [d for d in ids if not inserted[d]]
    if empty:
        cursor.executemany("DELETE FROM raw_deliveries WHERE id = ?", [(d,) for d in empty])
    return [inserted[d] for d in ids]


# PostgreSQL: the batch as one statement. It travels as two JSON documents (cheaper on
# the client than adapting a dozen arrays): the requests, each taking its id from the
# sequence up front, and their events. Each request's and event's JSON is made by
# :func:`prepare`; the committer only joins them, numbering each (``n``, the request
# in the batch; ``o``, the event's order). The events are inserted first (skipping
# duplicates), then only the requests that kept at least one event: the foreign key
# is checked at the end of the statement, when both are in. With a channel, each new
# event queues the wake-up; PostgreSQL sends it once, at commit.
_STORE_PG = """
WITH batch AS MATERIALIZED (
    SELECT nextval(pg_get_serial_sequence('raw_deliveries', 'id')) AS id, r.*
    FROM json_to_recordset(%(requests)s::json) AS r(
        n int, connector text, endpoint text, method text, url text, headers jsonb,
        body text, received_at timestamptz)
), new_events AS (
    INSERT INTO inbox_events (delivery_id, connector, endpoint, idempotency_key, event_type,
                              payload, status, attempts, next_attempt_at, received_at)
    SELECT b.id, b.connector, b.endpoint, e.key, e.type, e.payload,
           'pending', 0, b.received_at, b.received_at
    FROM json_to_recordset(%(events)s::json) AS e(o int, n int, key text, type text,
                                                   payload jsonb)
    JOIN batch AS b USING (n)
    ORDER BY e.o
    ON CONFLICT (connector, idempotency_key) DO NOTHING
    RETURNING delivery_id
), new_requests AS (
    INSERT INTO raw_deliveries (id, connector, endpoint, method, url, headers, body, received_at)
    SELECT id, connector, endpoint, method, url, headers, decode(body, 'base64'), received_at
    FROM batch
    WHERE id IN (SELECT delivery_id FROM new_events)
)
SELECT batch.n, count(new_events.delivery_id)
FROM batch LEFT JOIN new_events ON new_events.delivery_id = batch.id
GROUP BY batch.n
"""
_STORE_PG_NOTIFY = _STORE_PG.replace(
    "RETURNING delivery_id", "RETURNING delivery_id, pg_notify(%(channel)s, '')"
)


def _pg_rows(item: Incoming, unique: dict[str, InboundEvent]) -> tuple[str, tuple[str, ...]]:
    """The request's and its events' JSON objects with their first brace left off, so
    the committer can put the batch's numbers in front (``{"n": 3, `` + this)."""
    raw = item.raw
    request = json.dumps(
        {
            "connector": item.connector,
            "endpoint": item.endpoint,
            "method": raw.method,
            "url": raw.url,
            "headers": kept_headers(raw),
            "body": base64.b64encode(raw.body).decode("ascii"),
            "received_at": raw.received_at.isoformat(),
        }
    )[1:]
    events = tuple(
        json.dumps({"key": key, "type": event.event_type, "payload": event.payload})[1:]
        for key, event in unique.items()
    )
    return request, events


def _store_pg(cursor: Any, batch: Sequence[Prepared], notify: str) -> list[int]:
    requests = ",".join(f'{{"n": {n}, {item.request}' for n, item in enumerate(batch))
    events, order = [], 0
    for n, item in enumerate(batch):
        for tail in item.events:
            events.append(f'{{"n": {n}, "o": {order}, {tail}')
            order += 1
    params = {"requests": f"[{requests}]", "events": f"[{','.join(events)}]", "channel": notify}
    statement = _STORE_PG_NOTIFY if notify else _STORE_PG
    counts = {int(n): int(kept) for n, kept in cursor.execute(statement, params).fetchall()}
    return [counts.get(n, 0) for n in range(len(batch))]
