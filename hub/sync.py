"""Run one pull stream: each page's records and the new cursor commit together.

So a crash mid-sync resumes at the last committed page with no gap; re-reading a page
is harmless because applying a record is idempotent. A full backfill keeps its own
cursor (``<stream>@full``) beside the incremental one, so it resumes from its last
page after a crash or a spent API budget, and scheduled increments carry on
meanwhile. Every run is recorded in ``sync_runs`` for the admins' history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete

from hub.errors import RetriableError
from hub.plugin import Connector, Page, Stream
from hub.runtime import Runtime
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import SyncCursor, SyncRun

log = logging.getLogger(__name__)
ProgressCallback = Callable[[SyncRun, int | None], None]


def cursor_slot(stream: Stream, full: bool) -> str:
    return f"{stream.name}@full" if full else stream.name


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
) -> SyncRun:
    """Read ``stream`` from its cursor to the end; return the finished run record.

    Status: ``succeeded``; ``deferred`` when the connector asked to stop and resume
    later (rate limit, budget kept for live work); ``failed`` with the error.
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
    try:
        for page in stream.read(cursor):
            run = _commit_page(runtime, connector, slot, page, run, calls_before)
            log.info("sync.page_committed", extra={**context, "pages": run.pages})
            if progress:
                progress(run, estimate)
        status, error = "succeeded", None
    except RetriableError as exc:
        status, error = "deferred", f"{type(exc).__name__}: {exc}"
        log.warning("sync.deferred", extra={**context, "retry_after": exc.retry_after})
    except Exception as exc:  # noqa: BLE001 - recorded on the run for the admins
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        log.warning("sync.failed", extra={**context, "error_class": type(exc).__name__})
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
