"""How a customer's context is read: the statements and the reader that runs them.

Hand-written statements on the session's own DBAPI connection instead of ORM queries
(this is the hot path of a ringing call): who holds the identifier, and six small reads
aimed at that holder (identifiers, source records, the recent timeline, open items, the
current journey, candidates with their names). SQLite runs them as statements in
process. PostgreSQL gets them as one statement (each part a JSON array of rows, the
holder resolved once): one plan, one executor start and one result instead of seven,
which at 1M contacts took the server part of a lookup from ~1 ms to ~0.5 ms and the
client's driver work from 0.49 to 0.18 ms; a worker batch's pops send one such
statement per contact in one round trip (psycopg pipeline mode). Each read takes only
the columns the answer shows, through an index on the contact
(``ix_interactions_contact_time`` serves both timeline reads with their LIMIT).
:mod:`hub.customer_context` assembles the answer from the rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from hub.store.db import sqlalchemy_error

#: Statuses of cases, tickets and conversations that still need someone.
OPEN_STATUSES = (
    "new",
    "open",
    "pending",
    "hold",
    "on-hold",
    "waiting",
    "escalated",
    "working",
    "in-progress-case",
)
#: Stored identity candidates shown with a context (as ``candidates_for``'s default).
CANDIDATES = 5

# Statements in psycopg's paramstyle ("?" for SQLite is substituted below).
_SQL = {
    "holders": "SELECT :contact FROM identifiers i JOIN contacts c "
    "ON c.id = i.contact_id WHERE i.kind = %s AND i.value = %s",
    "contact": "SELECT :contact FROM contacts c WHERE c.id = %s",
    "activity": "SELECT contact_id, max(occurred_at) FROM interactions "
    "WHERE contact_id IN ({ids}) GROUP BY contact_id",
    "names": "SELECT id, display_name FROM contacts WHERE id IN ({ids})",
}
_CONTACT_COLUMNS = (
    "c.id, c.display_name, c.first_name, c.last_name, c.company, c.language, c.tier, "
    "c.merged_into_id"
)
#: Whose context the statements below read: a contact id, or the one holder of an
#: identifier (sent with the holders statement before it is known to be one).
_TARGET = {
    "id": "SELECT %s AS id",
    "key": "SELECT c.id FROM identifiers i JOIN contacts c ON c.id = i.contact_id "
    "WHERE i.kind = %s AND i.value = %s ORDER BY c.id LIMIT 1",
}
#: The context of the target (``:cid``), each statement through an index on the contact.
_CONTEXT = (
    ("identifiers", "SELECT kind, value FROM identifiers WHERE contact_id = :cid ORDER BY id"),
    (
        "records",
        "SELECT connector, object_type, external_id, deleted_at FROM source_records "
        "WHERE contact_id = :cid ORDER BY id",
    ),
    (
        "recent",
        "SELECT id, channel, direction, occurred_at, status, summary, agent, connector, "
        "source_ref, data FROM interactions WHERE contact_id = :cid "
        "ORDER BY occurred_at DESC, id DESC LIMIT %s",
    ),
    (
        "open",
        "SELECT connector, source_ref, channel, status, summary, occurred_at "
        "FROM interactions WHERE contact_id = :cid AND status IN (:open) "
        "ORDER BY occurred_at DESC LIMIT %s",
    ),
    (
        "journey",
        "SELECT id, started_at, last_at, channels, interactions, channel_switches "
        "FROM journeys WHERE contact_id = :cid ORDER BY last_at DESC LIMIT 1",
    ),
    (
        # hub.identity.candidates.candidates_for, with the other contact's name joined in.
        "candidates",
        "SELECT m.contact_id, m.candidate_id, m.score, o.display_name "
        "FROM match_candidates m JOIN contacts o ON o.id = CASE WHEN m.contact_id = :cid "
        "THEN m.candidate_id ELSE m.contact_id END WHERE m.status = 'open' "
        "AND (m.contact_id = :cid OR m.candidate_id = :cid) "
        "ORDER BY m.score DESC, m.id LIMIT %s",
    ),
)
_SQL = {name: sql.replace(":contact", _CONTACT_COLUMNS) for name, sql in _SQL.items()}
_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
for _kind, _target in _TARGET.items():
    for _name, _body in _CONTEXT:
        _body = _body.replace(":cid", "(SELECT id FROM target)").replace(":open", _OPEN)
        _SQL[f"{_name}:{_kind}"] = "WITH target AS (" + _target + ") " + _body
_SQLITE = {name: sql.replace("%s", "?") for name, sql in _SQL.items()}


def _json_rows(columns: str, source: str, order: str = "") -> str:
    """A scalar subquery: the rows of ``source`` as one JSON array of arrays."""
    order = f" ORDER BY {order}" if order else ""
    return f"(SELECT json_agg(json_build_array({columns}){order}) FROM {source})"  # noqa: S608 - constants


def _rows_of(name: str) -> str:
    """A :data:`_CONTEXT` statement aimed at the target, as a FROM source."""
    body = dict(_CONTEXT)[name].replace(":cid", "(SELECT id FROM target)")
    return "(" + body.replace(":open", _OPEN) + ") AS part"


#: PostgreSQL: the first part of the one-statement context (the lookup's holders, or
#: the contact row), then the six reads of :data:`_CONTEXT` as JSON arrays of rows.
_PG_FIRST = {
    "key": _json_rows(
        _CONTACT_COLUMNS,
        "identifiers i JOIN contacts c ON c.id = i.contact_id WHERE i.kind = %s AND i.value = %s",
    ),
    "id": _json_rows(_CONTACT_COLUMNS, "contacts c WHERE c.id = (SELECT id FROM target)"),
}
_PG_PARTS = (
    _json_rows(
        "kind, value", _rows_of("identifiers").replace("SELECT kind", "SELECT id, kind"), "id"
    ),
    _json_rows(
        "connector, object_type, external_id, deleted_at",
        _rows_of("records").replace("SELECT connector", "SELECT id, connector"),
        "id",
    ),
    _json_rows(
        "id, channel, direction, occurred_at, status, summary, agent, connector, source_ref, data",
        _rows_of("recent"),
        "occurred_at DESC, id DESC",
    ),
    _json_rows(
        "connector, source_ref, channel, status, summary, occurred_at",
        _rows_of("open"),
        "occurred_at DESC",
    ),
    _json_rows(
        "id, started_at, last_at, channels, interactions, channel_switches", _rows_of("journey")
    ),
    _json_rows(
        "contact_id, candidate_id, score, display_name",
        _rows_of("candidates").replace("SELECT m.contact_id", "SELECT m.id, m.contact_id"),
        "score DESC, id",
    ),
)
for _kind, _target in _TARGET.items():
    _SQL[f"context:{_kind}"] = (
        f"WITH target AS MATERIALIZED ({_target}) SELECT {_PG_FIRST[_kind]}, "
        + ", ".join(_PG_PARTS)
    )


class Reader:
    """Runs statements on the DBAPI connection under ``conn`` (inside its transaction,
    so a pop sees the rows its own transaction just wrote)."""

    def __init__(self, driver: Any, pg: bool) -> None:
        self.driver = driver
        self.pg = pg
        self.sql = _SQL if pg else _SQLITE

    @classmethod
    def of(cls, conn: Connection) -> Reader:
        """A reader on a SQLAlchemy connection's DBAPI connection."""
        return cls(conn.connection.driver_connection, conn.dialect.name == "postgresql")

    def one(self, name: str, params: Sequence[Any], **fmt: str) -> list[Any]:
        return self.many([(name, params, fmt)])[0]

    def many(self, queries: Sequence[tuple[str, Sequence[Any], Mapping[str, str]]]) -> list[Any]:
        texts = [
            (self.sql[name].format(**fmt) if fmt else self.sql[name], params)
            for name, params, fmt in queries
        ]
        if not self.pg:
            cursor = self.driver.cursor()
            try:
                return [cursor.execute(sql, params).fetchall() for sql, params in texts]
            finally:
                cursor.close()
        if len(texts) == 1:
            with self.driver.cursor() as cursor:
                cursor.execute(*texts[0])
                return [cursor.fetchall()]
        cursors = [self.driver.cursor() for _ in texts]
        try:
            with self.driver.pipeline():  # one round trip for them all
                for cursor, (sql, params) in zip(cursors, texts, strict=True):
                    cursor.execute(sql, params)
            return [cursor.fetchall() for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()

    def placeholders(self, count: int) -> str:
        return ", ".join(["%s" if self.pg else "?"] * count)


def connection_for(session: Session) -> Connection:
    """The session's connection, its pending changes flushed (raw statements do not
    autoflush): a pop reads the rows its own transaction just wrote."""
    session.flush()
    return session.connection()


@contextmanager
def lookup_reader(engine: Engine) -> Iterator[Reader]:
    """A reader on a pooled connection of its own, for a lookup outside any unit of work
    (the context API).

    No ORM session: a lookup is one statement, and a Session's connection, begin and
    close around it cost 11 % of a lookup's instructions in the web process (callgrind,
    2.47M -> 2.19M per lookup, 1M-contact PostgreSQL store). PostgreSQL runs it in
    autocommit (no BEGIN, and handing the connection back sends no ROLLBACK; the rare
    second statement, for a merged or shared holder, reads a snapshot of its own);
    SQLite reads in one deferred transaction, so its seven statements see one snapshot
    and never queue behind a writer. The pool's checkout hooks still run (the idle ping
    in hub/store/db.py).
    """
    pg = engine.dialect.name == "postgresql"
    dbapi_error = engine.dialect.loaded_dbapi.Error
    pooled = None
    try:
        pooled = engine.raw_connection()  # a server that is down fails here
        driver: Any = pooled.driver_connection
        if pg:
            driver.autocommit = True
        else:
            driver.execute("BEGIN")
        yield Reader(driver, pg)
    except dbapi_error as exc:
        # What a Session would do: a lost server drops the connection from the pool and
        # the error is SQLAlchemy's, which the app answers with 503, not 500.
        error = sqlalchemy_error(exc, engine.dialect, pooled.dbapi_connection if pooled else None)
        if error.connection_invalidated and pooled is not None:
            pooled.invalidate(exc)
        raise error from exc
    finally:
        if pooled is not None:
            _hand_back(pooled, pg, dbapi_error)


def _hand_back(pooled: Any, pg: bool, dbapi_error: type[Exception]) -> None:
    """Return the connection to the pool as it was lent, whatever happened meanwhile:
    a PostgreSQL connection left in autocommit would run the next unit of work that
    borrows it without a transaction."""
    try:
        if pooled.is_valid:
            if pg:
                pooled.driver_connection.autocommit = False
            else:
                pooled.driver_connection.rollback()
    except dbapi_error as exc:
        pooled.invalidate(exc)
    finally:
        pooled.close()


def context_queries(
    target: str, params: Sequence[Any], recent: int
) -> list[tuple[str, Sequence[Any], Mapping[str, str]]]:
    """The six context statements for the contact ``target`` names (``id`` or ``key``)."""
    limits = {"recent": recent, "open": recent, "candidates": CANDIDATES}
    return [
        (f"{name}:{target}", (*params, limits[name]) if name in limits else tuple(params), {})
        for name, _ in _CONTEXT
    ]


def pg_context(target: str, params: Sequence[Any], recent: int) -> tuple[str, Sequence[Any]]:
    """PostgreSQL's one statement for ``target`` (``id`` or ``key``), with its parameters
    in the order they appear: the target, the key again for its holders, the limits."""
    first = tuple(params) if target == "key" else ()
    return f"context:{target}", (*params, *first, recent, recent, CANDIDATES)


def split_row(row: Sequence[Any]) -> tuple[list[Any], list[list[Any]]]:
    """The one statement's row as the statements' rows: the first part, then the six."""
    first, *context = (list(part) if part is not None else [] for part in row)
    return first, context


def context_of(reader: Reader, contact_id: str, recent: int) -> list[list[Any]]:
    """The six context reads for one contact."""
    if reader.pg:
        return split_row(reader.one(*pg_context("id", (contact_id,), recent))[0])[1]
    return reader.many(context_queries("id", (contact_id,), recent))


#: How many reads make a context (after the holders or the contact row).
CONTEXT_PARTS = len(_CONTEXT)
