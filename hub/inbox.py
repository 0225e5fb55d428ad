"""The durable inbox: store verified events, then work them off as a leased queue
(``hub/leases.py``): a worker that dies lets its leases run out and another takes over.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Connection, CursorResult, Dialect, select, update
from sqlalchemy.orm import Session

from hub import leases
from hub.plugin import InboundEvent
from hub.store.coltypes import utcnow
from hub.store.db import driver_errors
from hub.store.models import InboxEvent, RawDelivery
from webhooks import RawRequest

#: Headers never kept with a stored request: credentials of the sender.
_DROP_HEADERS = {"authorization", "cookie", "proxy-authorization"}


@dataclass(frozen=True)
class Claimed:
    """An event a worker holds a lease on."""

    id: int
    connector: str
    event: InboundEvent
    attempts: int
    received_at: datetime | None = None


def body_hash_key(raw: RawRequest) -> str:
    """The idempotency key for senders that give none: a hash of the exact body."""
    return "sha256:" + hashlib.sha256(raw.body).hexdigest()


@dataclass(frozen=True)
class Incoming:
    """One verified request to store: its connector, endpoint, raw bytes and events."""

    connector: str
    endpoint: str
    raw: RawRequest
    events: Sequence[InboundEvent]


def store_batch(
    conn: Connection, items: Sequence[Incoming], *, notify: str = ""
) -> list[tuple[int, int]]:
    """Insert many requests and their events; ``notify`` names a channel to signal.

    Returns ``(stored, duplicates)`` per item, in order. Events whose
    ``(connector, key)`` is already stored, by an earlier request or earlier in this
    batch, are skipped; an item whose events are all duplicates leaves nothing behind,
    not even its raw request.

    Intake's group commit hands a whole batch of concurrent requests here. On
    PostgreSQL the batch is one statement, atomic on its own, so it may run in
    autocommit mode: one round trip stores and commits every request and queues the
    wake-up (``pg_notify``, sent at commit). On SQLite it is one INSERT per table
    inside the caller's transaction (which must hold the write lock), and ``notify``
    is ignored (there is no other host to wake).
    """
    todo = [(n, item) for n, item in enumerate(items) if item.events]
    results = [(0, 0)] * len(items)
    if not todo:
        return results
    requests = [(item, {e.key: e for e in item.events}) for _, item in todo]  # a key twice
    if conn.dialect.name == "postgresql":  # in one request counts once
        stored = _store_pg(conn, requests, notify)
    else:
        stored = _store_sqlite(conn, requests)
    for (n, item), count in zip(todo, stored, strict=True):
        results[n] = (count, len(item.events) - count)
    return results


_Request = tuple[Incoming, dict[str, InboundEvent]]


def _kept_headers(raw: RawRequest) -> dict[str, str]:
    return {k: v for k, v in raw.headers.items() if k not in _DROP_HEADERS}


def driver_cursor(conn: Connection) -> Any:
    """A cursor of the driver's own connection under ``conn``, for the batch writes
    below (tests wrap this to make the store fail or stall mid-write)."""
    return conn.connection.driver_connection.cursor()


def _store_sqlite(conn: Connection, requests: Sequence[_Request]) -> list[int]:
    # The caller's transaction holds SQLite's one write lock (BEGIN IMMEDIATE), so the
    # batch can number its raw requests itself: no RETURNING, one executemany. A
    # deferred transaction would get SQLITE_BUSY rather than a wrong id.
    bind = _sqlite_binders(conn.dialect)
    with driver_errors(conn):
        return _store_sqlite_rows(driver_cursor(conn), bind, requests)


def _store_sqlite_rows(cursor: Any, bind: _Binders, requests: Sequence[_Request]) -> list[int]:
    # Straight on the driver's cursor, inside the caller's transaction: a small batch
    # is a few rows, and SQLAlchemy's set-up per statement cost more CPU than SQLite
    # spent on the statement (hub/store/sqlite_rows.py does the same for pages).
    first = int(cursor.execute("SELECT coalesce(max(id), 0) + 1 FROM raw_deliveries").fetchone()[0])
    ids = range(first, first + len(requests))
    cursor.executemany(
        "INSERT INTO raw_deliveries (id, connector, endpoint, method, url, headers, body,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                delivery_id,
                item.connector,
                item.endpoint,
                item.raw.method,
                item.raw.url,
                bind.json(_kept_headers(item.raw)),
                bind.blob(item.raw.body),
                bind.time(item.raw.received_at),
            )
            for delivery_id, (item, _) in zip(ids, requests, strict=True)
        ],
    )
    rows = []
    for delivery_id, (item, unique) in zip(ids, requests, strict=True):
        when = bind.time(item.raw.received_at)
        for key, event in unique.items():
            rows.append((delivery_id, item.connector, item.endpoint, key, event.event_type,
                         bind.json(event.payload), "pending", 0, when, when))  # fmt: skip
    inserted: Counter[int] = Counter()
    for start in range(0, len(rows), _SQLITE_ROWS):  # under SQLite's bound-variable limit
        chunk = rows[start : start + _SQLITE_ROWS]
        statement = _SQLITE_EVENTS.format(values=", ".join([_SQLITE_ROW] * len(chunk)))
        flat = tuple(value for row in chunk for value in row)
        inserted.update(int(d) for (d,) in cursor.execute(statement, flat).fetchall())
    empty = [d for d in ids if not inserted[d]]
    if empty:
        cursor.executemany("DELETE FROM raw_deliveries WHERE id = ?", [(d,) for d in empty])
    return [inserted[d] for d in ids]


_SQLITE_ROWS = 500
_SQLITE_ROW = "(" + ", ".join(["?"] * 10) + ")"
_SQLITE_EVENTS = (
    "INSERT INTO inbox_events (delivery_id, connector, endpoint, idempotency_key, event_type,"
    " payload, status, attempts, next_attempt_at, received_at) VALUES {values}"
    " ON CONFLICT (connector, idempotency_key) DO NOTHING RETURNING delivery_id"
)


@dataclass(frozen=True)
class _Binders:
    """The columns' own bind conversions, so rows written here read back exactly as
    rows written through the ORM (JSON text, BLOB, the dialect's datetime format)."""

    json: Callable[[Any], Any]
    blob: Callable[[Any], Any]
    time: Callable[[Any], Any]


@cache
def _sqlite_binders(dialect: Dialect) -> _Binders:
    def binder(column: Any) -> Callable[[Any], Any]:
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        return process or (lambda value: value)

    return _Binders(
        json=binder(InboxEvent.__table__.c.payload),
        blob=binder(RawDelivery.__table__.c.body),
        time=binder(RawDelivery.__table__.c.received_at),
    )


# The batch as one statement. It travels as two JSON documents (one json.dumps each,
# cheaper on the client than adapting a dozen arrays): the requests, each taking its
# id from the sequence up front, and their events. The events are inserted first
# (skipping duplicates), then only the requests that kept at least one event: the
# foreign key is checked at the end of the statement, when both are in. With a
# channel, each new event queues the wake-up; PostgreSQL sends it once, at commit.
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


def _store_pg(conn: Connection, requests: Sequence[_Request], notify: str) -> list[int]:
    batch = [
        {
            "n": n,
            "connector": item.connector,
            "endpoint": item.endpoint,
            "method": item.raw.method,
            "url": item.raw.url,
            "headers": _kept_headers(item.raw),
            "body": base64.b64encode(item.raw.body).decode("ascii"),
            "received_at": item.raw.received_at.isoformat(),
        }
        for n, (item, _) in enumerate(requests)
    ]
    events = [
        {"n": n, "key": key, "type": event.event_type, "payload": event.payload}
        for n, (_, unique) in enumerate(requests)
        for key, event in unique.items()
    ]
    for o, event in enumerate(events):
        event["o"] = o
    params = {"requests": json.dumps(batch), "events": json.dumps(events), "channel": notify}
    statement = _STORE_PG_NOTIFY if notify else _STORE_PG
    # Straight on psycopg's cursor: SQLAlchemy's set-up per statement was a third of the
    # client's CPU for a batch (its result is two integers per request).
    with driver_errors(conn), driver_cursor(conn) as cursor:
        counts = {int(n): int(kept) for n, kept in cursor.execute(statement, params).fetchall()}
    return [counts.get(n, 0) for n in range(len(requests))]


def store_events(
    session: Session,
    *,
    connector: str,
    endpoint: str,
    raw: RawRequest,
    events: Sequence[InboundEvent],
) -> tuple[int, int]:
    """:func:`store_batch` for one request, in ``session``'s transaction.

    Returns ``(stored, duplicates)``. When every event is a duplicate nothing at all
    is written, not even the raw request.
    """
    return store_batch(session.connection(), [Incoming(connector, endpoint, raw, events)])[0]


def claim(session: Session, *, worker_id: str, limit: int, lease: timedelta) -> list[Claimed]:
    """Lease up to ``limit`` due events, oldest first, for ``worker_id``."""
    rows = leases.claim_rows(
        session,
        InboxEvent,
        worker_id=worker_id,
        limit=limit,
        lease=lease,
        returning=(
            InboxEvent.connector,
            InboxEvent.idempotency_key,
            InboxEvent.event_type,
            InboxEvent.payload,
            InboxEvent.received_at,
        ),
    )
    return [
        Claimed(
            id=row.id,
            connector=row.connector,
            attempts=row.attempts,
            received_at=row.received_at,
            event=InboundEvent(row.idempotency_key, row.event_type, row.payload),
        )
        for row in rows
    ]


def finish(session: Session, event_id: int, worker_id: str, status: str, detail: str = "") -> bool:
    """Mark an event done/ignored if this worker still holds its lease (fencing)."""
    return leases.finish_row(
        session,
        InboxEvent,
        event_id,
        worker_id,
        status=status,
        processed_at=utcnow(),
        last_error=detail or None,
    )


def finish_many(session: Session, results: Sequence[tuple[int, str, str]], worker_id: str) -> bool:
    """Mark many events at once, ``(event id, status, detail)`` each; False when this
    worker no longer holds every lease (the caller rolls the whole batch back)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for event_id, status, detail in results:
        groups.setdefault((status, detail), []).append(event_id)
    now = utcnow()
    return all(
        leases.finish_rows(
            session,
            InboxEvent,
            ids,
            worker_id,
            status=status,
            processed_at=now,
            last_error=detail or None,
        )
        for (status, detail), ids in groups.items()
    )


def release(session: Session, ids: Sequence[int], worker_id: str) -> int:
    """Give back leases ``worker_id`` holds and did not use: the events are due again
    at once, and the claim no longer counts as an attempt. Returns how many."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(InboxEvent)
        .where(
            InboxEvent.id.in_(list(ids)),
            InboxEvent.locked_by == worker_id,
            InboxEvent.status == "pending",
        )
        .values(lease_until=None, locked_by=None, attempts=InboxEvent.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


def fail(session: Session, event_id: int, worker_id: str, **kwargs: Any) -> str:
    """Retry later with backoff, or dead-letter (see :func:`hub.leases.retry_or_bury`)."""
    return leases.retry_or_bury(
        session, InboxEvent, event_id, worker_id, dead_extra={"processed_at": utcnow()}, **kwargs
    )


def replay(session: Session, ids: Sequence[int] | None = None, *, status: str = "dead") -> int:
    """Re-queue events: ``ids`` (in any state but pending), or every event in ``status``.

    Replaying a processed event is safe: processing is idempotent.
    """
    count = leases.requeue(session, InboxEvent, ids, status)
    return count


def counts_by_status(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(
        select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
    ).all()
    return {status: int(n) for status, n in rows}
