"""Run one pull stream: each page's records and the new cursor commit together.

So a crash mid-sync resumes at the last committed page with no gap; re-reading a page
is harmless because applying a record is idempotent. Every run is recorded in
``sync_runs`` for the admins' history.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from hub.plugin import Connector, Stream
from hub.runtime import Runtime
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import SyncCursor, SyncRun

log = logging.getLogger(__name__)


def _load_cursor(runtime: Runtime, connector: str, stream: str) -> dict[str, Any]:
    with runtime.read_sessions() as session:
        row = session.get(SyncCursor, (connector, stream))
        return dict(row.cursor) if row else {}


def run_stream(runtime: Runtime, connector: Connector, stream: Stream) -> SyncRun:
    """Read ``stream`` from its cursor to the end; return the finished run record."""
    cursor = _load_cursor(runtime, connector.name, stream.name)
    with transaction(runtime.sessions) as session:
        run = SyncRun(connector=connector.name, stream=stream.name, cursor_before=cursor)
        session.add(run)
    try:
        for page in stream.read(cursor):
            with transaction(runtime.sessions) as session:
                outcome = runtime.pipeline.apply(
                    session, connector, [*page.records, *page.deletions]
                )
                state = session.scalar(
                    select(SyncCursor).where(
                        SyncCursor.connector == connector.name, SyncCursor.stream == stream.name
                    )
                )
                if state is None:
                    session.add(
                        SyncCursor(
                            connector=connector.name, stream=stream.name, cursor=dict(page.cursor)
                        )
                    )
                else:
                    state.cursor = dict(page.cursor)
                live = session.merge(run)
                live.pages += 1
                live.records_read += len(page.records) + len(page.deletions)
                live.records_changed += outcome.changed
                live.cursor_after = dict(page.cursor)
                run = live
            log.info(
                "sync.page_committed",
                extra={"connector": connector.name, "stream": stream.name, "pages": run.pages},
            )
        status, error = "succeeded", None
    except Exception as exc:  # noqa: BLE001 - recorded on the run and re-raised to the caller
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        log.warning(
            "sync.failed",
            extra={
                "connector": connector.name,
                "stream": stream.name,
                "error_class": type(exc).__name__,
            },
        )
    with transaction(runtime.sessions) as session:
        live = session.merge(run)
        live.status, live.error, live.finished_at = status, error, utcnow()
        run = live
    return run
