"""Run one pull stream: each page's records and the new cursor commit together.

So a crash mid-sync resumes at the last committed page with no gap; re-reading a page
is harmless because applying a record is idempotent. A full backfill keeps its own
cursor (``<stream>@full``) beside the incremental one, so it resumes from its last
page after a crash or a spent API budget, and scheduled increments carry on
meanwhile. Every run is recorded in ``sync_runs`` for the admins' history.

A stream that sets ``read_ahead`` (a connector setting, off by default) has its
next page read in a thread while the current one is written (:class:`Prefetch`):
the vendor prepares a page while we store the last. A page's cursor still commits
only with that page's records, so a crash loses at most the page read ahead, which
the next run reads again; a vendor failure is met one page later. PostgreSQL only:
on SQLite the reader would wait for the writer's lock for its budget and token
bookkeeping (a long page write outlasts the busy timeout), so pages are read one
after the other there.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import delete

from hub.errors import RetriableError
from hub.plugin import Connector, Page, Stream
from hub.runtime import Runtime
from hub.store.bulk import refresh_statistics
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import SyncCursor, SyncRun

log = logging.getLogger(__name__)
ProgressCallback = Callable[[SyncRun, int | None], None]


class Prefetch:
    """Pages of ``pages`` (a stream's ``read``), each read in a thread while the
    caller commits the one before.

    Exactly one page is read ahead: the reader starts on page N+1 when the caller
    takes page N, so memory stays bounded and a failure that appears mid-run is met
    at most one page later than without the thread. The stream's exceptions reach
    the caller as they would without the thread; :meth:`close` stops the reader after
    its current call and waits for it, so the connector is never used by two threads
    once ``run_stream`` returns.
    """

    JOIN_SECONDS = 120.0

    def __init__(self, pages: Iterator[Page]) -> None:
        self._pages = pages
        self._ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
        self._wanted = threading.Semaphore(0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sync-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while self._want():
                page = next(self._pages, None)
                if page is None:
                    self._ready.put(("done", None))
                    return
                self._ready.put(("page", page))
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            self._ready.put(("error", exc))
        finally:
            close = getattr(self._pages, "close", None)
            if close is not None:
                close()

    def _want(self) -> bool:
        """Wait until the caller asks for a page; False once it has stopped."""
        while not self._wanted.acquire(timeout=0.1):
            if self._stop.is_set():
                return False
        return not self._stop.is_set()

    def __iter__(self) -> Iterator[Page]:
        self._wanted.release()
        while True:
            kind, value = self._ready.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            self._wanted.release()  # read the next page while this one is committed
            yield value

    def close(self) -> None:
        self._stop.set()
        self._thread.join(self.JOIN_SECONDS)
        if self._thread.is_alive():
            log.warning("sync.prefetch_still_running", extra={"seconds": self.JOIN_SECONDS})


def cursor_slot(stream: Stream, full: bool) -> str:
    return f"{stream.name}@full" if full else stream.name


def _can_prefetch(runtime: Runtime) -> bool:
    """Read ahead only where a second writer need not wait (see the module doc)."""
    return runtime.engine.dialect.name == "postgresql"


def _load_cursor(runtime: Runtime, connector: str, slot: str) -> dict[str, Any]:
    with runtime.read_sessions() as session:
        row = session.get(SyncCursor, (connector, slot))
        return dict(row.cursor) if row else {}


def _commit_page(
    runtime: Runtime, connector: Connector, slot: str, page: Page, run: SyncRun, calls_before: int
) -> SyncRun:
    with transaction(runtime.sessions) as session:
        outcome = runtime.pipeline.apply(session, connector, [*page.records, *page.deletions])
        session.merge(SyncCursor(connector=connector.name, stream=slot, cursor=dict(page.cursor)))
        live = session.merge(run)
        live.pages += 1
        live.records_read += len(page.records) + len(page.deletions)
        live.records_changed += outcome.changed
        live.cursor_after = dict(page.cursor)
        live.api_calls = connector.context.api_calls - calls_before
        return live


def run_stream(
    runtime: Runtime,
    connector: Connector,
    stream: Stream,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
    prefetch: bool | None = None,
) -> SyncRun:
    """Read ``stream`` from its cursor to the end; return the finished run record.

    Status: ``succeeded``; ``deferred`` when the connector asked to stop and resume
    later (rate limit, budget kept for live work); ``failed`` with the error.
    ``prefetch``: read the next page in a thread (default: when the stream asks for
    it with ``read_ahead`` and the store is PostgreSQL; a profiler wants it off).
    """
    slot = cursor_slot(stream, full)
    stream.priority = "backfill" if full else "live"
    cursor = _load_cursor(runtime, connector.name, slot)
    calls_before = connector.context.api_calls
    with transaction(runtime.sessions) as session:
        run = SyncRun(
            connector=connector.name,
            stream=stream.name,
            cursor_before=cursor,
            mode="full" if full else "incremental",
        )
        session.add(run)
    estimate = stream.estimate(cursor) if progress else None
    context = {"connector": connector.name, "stream": stream.name, "mode": run.mode}
    if prefetch is None:
        prefetch = bool(getattr(stream, "read_ahead", False)) and _can_prefetch(runtime)
    ahead = Prefetch(stream.read(cursor)) if prefetch else None
    try:
        for page in ahead or stream.read(cursor):
            run = _commit_page(runtime, connector, slot, page, run, calls_before)
            log.info("sync.page_committed", extra={**context, "pages": run.pages})
            if analyzed := refresh_statistics(runtime.engine):
                log.info("sync.statistics_refreshed", extra={**context, "tables": analyzed})
            if progress:
                progress(run, estimate)
        status, error = "succeeded", None
    except RetriableError as exc:
        status, error = "deferred", f"{type(exc).__name__}: {exc}"
        log.warning("sync.deferred", extra={**context, "retry_after": exc.retry_after})
    except Exception as exc:  # noqa: BLE001 - recorded on the run for the admins
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        log.warning("sync.failed", extra={**context, "error_class": type(exc).__name__})
    finally:
        if ahead is not None:
            ahead.close()
    with transaction(runtime.sessions) as session:
        live = session.merge(run)
        live.status, live.error, live.finished_at = status, error, utcnow()
        live.api_calls = connector.context.api_calls - calls_before
        if full and status == "succeeded":  # the next --full starts from the beginning
            session.execute(
                delete(SyncCursor).where(
                    SyncCursor.connector == connector.name, SyncCursor.stream == slot
                )
            )
        run = live
    return run
