"""Engine and session set-up for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///var/threadline.db"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for ``postgresql://`` URLs (SQLAlchemy defaults to psycopg2)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is switched off (SQLAlchemy's documented
    # recipe) so that the "begin" hook below decides how each transaction starts.
    dbapi_connection.isolation_level = None
    # WAL lets readers run while the worker writes; synchronous=FULL because a webhook
    # is acknowledged right after its commit, so the commit must survive power loss.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE): two deferred transactions
    # that both upgrade to writing fail at once with "database is locked" instead of
    # waiting. Read-only work asks for a deferred BEGIN so readers never queue.
    if conn.get_execution_options().get("sqlite_deferred"):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create the engine for ``url``; SQLite files get their folder and pragmas."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": 10, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )
    _ping_when_idle(engine)
    return engine


#: A pooled connection that sat idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Pre-ping, but only connections that were idle a while.

    A ping is a round trip, and SQLAlchemy's ``pool_pre_ping`` sends one at every
    checkout: a context lookup was two round trips (ping, statement) instead of one,
    and every worker transaction paid it too. A connection back in the pool moments
    ago was alive moments ago; one idle for over a second is pinged as before, and a
    dead one is replaced (raising DisconnectionError makes the pool connect afresh).
    If the server restarts between two quick uses, the first statement fails as a
    disconnect, SQLAlchemy drops the whole pool, and the caller's usual store-down
    handling applies (intake answers 503, a worker retries its batch).
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            if engine.dialect.is_disconnect(exc, dbapi_connection, None):
                raise DisconnectionError("pooled connection was dead") from exc
            raise


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    """Sessions for writing, or (``read_only``) for lookups that never queue on SQLite."""
    if read_only:
        return sessionmaker(engine.execution_options(sqlite_deferred=True), expire_on_commit=False)
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session


@contextmanager
def driver_errors(conn: Connection) -> Iterator[None]:
    """Work done straight on ``conn``'s DBAPI connection (psycopg's pipeline mode, which
    SQLAlchemy cannot drive), its driver errors raised as SQLAlchemy's, as if SQLAlchemy
    had run the statements: a lost server invalidates the connection, and callers keep
    one kind of error to handle (a worker's deadlock retry, intake's 503)."""
    try:
        yield
    except conn.dialect.loaded_dbapi.Error as exc:
        error = sqlalchemy_error(exc, conn.dialect, conn.connection.dbapi_connection)
        if error.connection_invalidated:
            conn.invalidate(exc)
        raise error from exc


def sqlalchemy_error(exc: Any, dialect: Dialect, dbapi_connection: Any) -> DBAPIError:
    """A driver error as SQLAlchemy would raise it; ``connection_invalidated`` when the
    server is lost (or was never reached: no ``dbapi_connection``), and the caller then
    drops its connection from the pool."""
    lost = dbapi_connection is None or dialect.is_disconnect(exc, dbapi_connection, None)
    error = DBAPIError.instance(
        None, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )
    assert isinstance(error, DBAPIError)  # a driver error always makes one
    return error
