"""Group commit: concurrent requests in one process share one transaction and one fsync.

A durable acknowledgement costs a commit, and a commit costs a disk flush (SQLite WAL
with ``synchronous=FULL``, PostgreSQL's WAL flush) whatever it holds. So the request
threads of a web process queue their writes here, and whichever thread finds no commit
in flight becomes the committer: it takes everything pending (its own write and any
that queued behind it), writes it all in one transaction, commits, and then releases
every request of the batch. Each waiting request sleeps until it is settled or, if it
is the oldest still pending, handed the lead for the next batch. Nothing waits for a
batch to fill: a request that arrives while the store is idle is written at once,
alone. Under load, the writes that arrive during one commit's flush make up the next
batch.

Each request learns its own outcome and is acknowledged only after the commit that
holds it. When a batch fails:

- the store is down (a connection or operational error): every request of the batch
  gets that error (intake answers 503 with Retry-After);
- anything else (a value the store refuses, say a NUL byte on PostgreSQL): the batch
  is rolled back and each request is written again alone, so one poison request gets
  its own error and its neighbours are stored.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from hub.store.db import driver_errors

log = logging.getLogger(__name__)
Item = TypeVar("Item")
Result = TypeVar("Result")


class _Slot(Generic[Item, Result]):
    """One request's write. Its thread sleeps on ``wake`` (a lock taken at birth), which
    is released exactly once: when the write is settled, or to hand it the lead."""

    __slots__ = ("done", "error", "item", "result", "wake")

    def __init__(self, item: Item) -> None:
        self.item = item
        self.done = False
        self.result: Result | None = None
        self.error: BaseException | None = None
        self.wake = threading.Lock()
        self.wake.acquire()


class _InFlight(AbstractContextManager[None]):
    """:meth:`GroupCommit.in_flight`: one per committer, shared by its requests."""

    def __init__(self, enter: Callable[[], None], leave: Callable[[], None]) -> None:
        self._enter, self._leave = enter, leave

    def __enter__(self) -> None:
        self._enter()

    def __exit__(self, *_: object) -> None:
        self._leave()


def store_is_down(exc: BaseException) -> bool:
    """A failure of the store itself, not of what was written: retrying alone won't help."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


class GroupCommit(Generic[Item, Result]):
    """Write items in shared transactions; :meth:`submit` returns once its own is committed.

    ``write(conn, items)`` runs inside a transaction on ``engine`` and returns one
    result per item, in order. With ``autocommit`` the connection is in autocommit
    mode instead: ``write`` must then be one statement (atomic on its own), and the
    batch costs no BEGIN and COMMIT round trips. With ``driver_begin`` (a statement,
    say SQLite's ``BEGIN IMMEDIATE``) the transaction is begun with it and committed on
    the driver's connection, not through SQLAlchemy, and ``write`` must work on the
    driver's connection as well. ``after_commit(items)`` runs once per
    committed batch (say, to wake local workers).

    ``serialize``, when given, is entered around each batch: on SQLite a file lock
    (:class:`FileLock`) queues the committers of several web processes in the kernel,
    which hands the lock over the moment it is released, instead of SQLite's busy
    handler, which polls with sleeps of up to 100 ms and starves the unlucky.

    While batches keep coming, successive committers pass one connection along
    instead of checking one out (and pinging it) per batch. Requests that may submit
    say so with :meth:`in_flight`: while any of them is still in flight when a batch
    ends, the connection stays for the next batch (under steady load, batches seldom
    overlap, so it would otherwise go back to the pool, and come out with a ping and an
    isolation-level reset, once per batch). The last request out, or the last
    committer when nobody else is in flight, returns it to the pool, so nothing is
    held while intake is idle.
    """

    def __init__(
        self,
        engine: Engine,
        write: Callable[[Connection, Sequence[Item]], Sequence[Result]],
        after_commit: Callable[[Sequence[Item]], None] | None = None,
        *,
        autocommit: bool = False,
        driver_begin: str | None = None,
        serialize: Callable[[], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self._engine = engine
        self._write = write
        self._after_commit = after_commit
        self._autocommit = autocommit
        self._driver_begin = driver_begin
        self._serialize = serialize or nullcontext
        self._lock = threading.Lock()
        self._pending: list[_Slot[Item, Result]] = []
        self._busy = False
        self._conn: Connection | None = None  # only the committer of the moment uses it
        self._in_flight = 0  # requests inside in_flight()
        self._around = _InFlight(self._enter, self._leave)
        self.batches = 0  # committed batches and the items in them: for tests and metrics
        self.items = 0

    @property
    def pending(self) -> int:
        """Requests queued behind the commit in flight (a gauge for metrics and tests)."""
        with self._lock:
            return len(self._pending)

    def in_flight(self) -> AbstractContextManager[None]:
        """Around a request that may :meth:`submit`: while one is in flight, the
        connection of the last batch waits for the next; the last one out returns it."""
        return self._around  # a plain object, not a generator per request

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _leave(self) -> None:
        idle = None
        with self._lock:
            self._in_flight -= 1
            if not self._in_flight and not self._busy:
                idle, self._conn = self._conn, None
        if idle is not None:
            idle.close()

    def submit(self, item: Item) -> Result:
        """Write ``item`` durably and return its result, or raise its batch's error."""
        slot: _Slot[Item, Result] = _Slot(item)
        with self._lock:
            self._pending.append(slot)
            lead, self._busy = not self._busy, True
        if not lead:
            slot.wake.acquire()  # settled by a committer, or handed the lead
            if slot.done:
                return _outcome(slot)
        batch: list[_Slot[Item, Result]] = []
        try:
            with self._serialize():
                # Taken once the lock is held: what queued while another process
                # committed rides along (on SQLite, the file lock's wait is the batch's).
                with self._lock:
                    batch, self._pending = self._pending, []
                self._commit(batch)
        finally:
            for other in batch:  # only when interrupted (SystemExit in the committer)
                if not other.done:
                    other.error, other.done = RuntimeError("the commit was interrupted"), True
            successor, idle = None, None
            with self._lock:
                if self._pending:  # the oldest waiting request commits the next batch
                    successor = self._pending[0]
                else:
                    self._busy = False
                    if self._in_flight <= 1:  # nobody but (perhaps) this request
                        idle, self._conn = self._conn, None
            if successor is not None:
                successor.wake.release()
            for other in batch:
                if other is not slot:
                    other.wake.release()
            if idle is not None:
                idle.close()
        return _outcome(slot)

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect()
            if self._autocommit:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conn = conn
        return self._conn

    def _transaction(self, conn: Connection, items: list[Item]) -> Sequence[Result]:
        if self._autocommit:  # one statement, atomic on its own: no transaction to keep
            return self._write(conn, items)
        if self._driver_begin is None:
            with conn.begin():
                return self._write(conn, items)
        # Begun and committed on the driver's connection (``write`` must then use the
        # driver too): SQLAlchemy's begin and commit cost a small batch more CPU than
        # SQLite's own work, fsync aside. Driver errors still surface as SQLAlchemy's.
        driver: Any = conn.connection.driver_connection
        with driver_errors(conn):
            driver.execute(self._driver_begin)
            try:
                results = self._write(conn, items)
                driver.commit()
            except BaseException:
                with suppress(Exception):  # a lost connection: the original error matters
                    driver.rollback()
                raise
        return results

    def _commit(self, batch: list[_Slot[Item, Result]]) -> None:
        """Write ``batch`` in one transaction and settle every slot; never raises."""
        try:
            conn = self._connection()
            results = self._transaction(conn, [slot.item for slot in batch])
        except Exception as exc:  # noqa: BLE001 - settled into the slots, raised by submit
            if self._conn is not None:  # a failed batch never hands its connection on
                self._conn.close()
                self._conn = None
            if len(batch) > 1 and not store_is_down(exc):
                log.warning(
                    "intake.batch_split",
                    extra={"items": len(batch), "error_class": type(exc).__name__},
                )
                for slot in batch:
                    self._commit([slot])
                return
            for slot in batch:
                slot.error, slot.done = exc, True
            return
        with self._lock:
            self.batches += 1
            self.items += len(batch)
        for slot, result in zip(batch, results, strict=True):
            slot.result, slot.done = result, True
        if self._after_commit is not None:
            try:
                self._after_commit([slot.item for slot in batch])
            except Exception as exc:  # noqa: BLE001 - the batch is committed whatever this does
                log.error("intake.after_commit_failed", extra={"error_class": type(exc).__name__})


class FileLock:
    """An exclusive ``flock`` on ``path`` (created if missing), taken around each block.

    Only an optimisation over SQLite's own locking: when the file cannot be opened
    (a read-only folder), the block runs without it. The file is opened once per
    process and kept (a batch then costs a lock and an unlock, not an open and a
    close as well); a process forked after opening it opens its own, since processes
    sharing one open file would share the lock instead of queueing on it.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._fd: int | None = None
        self._pid = 0
        self._unusable = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        fd = self._descriptor()
        if fd is None:
            yield
            return
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _descriptor(self) -> int | None:
        if self._fd is not None and self._pid == os.getpid():
            return self._fd
        if self._unusable:
            return None
        try:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            self._unusable = True
            return None
        self._pid = os.getpid()
        return self._fd


def _outcome(slot: _Slot[Any, Result]) -> Result:
    if slot.error is not None:
        raise slot.error
    return slot.result  # type: ignore[return-value]
