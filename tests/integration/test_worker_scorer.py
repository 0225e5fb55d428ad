"""A running worker scores the candidates that contact writes queued, beside the inbox,
without anyone draining the queue by hand."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from hub.identity.candidate_queue import pending
from hub.plugin import SourceRecord
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import MatchCandidate
from hub.worker import Worker

AT = datetime(2026, 3, 1, tzinfo=UTC)


def _candidates(runtime: Runtime) -> int:
    with runtime.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(MatchCandidate)) or 0)


def test_a_running_worker_scores_queued_contacts(runtime: Runtime) -> None:
    bob = {"id": "r-1", "first_name": "Bob", "last_name": "Smith", "company": "Acme Inc",
           "emails": ["bob.smith@acme.com"]}  # fmt: skip
    robert = {"id": "r-2", "first_name": "Robert", "last_name": "Smiht", "company": "ACME",
              "emails": ["bob.smith@gmail.com"]}  # fmt: skip
    with transaction(runtime.sessions) as session:
        runtime.pipeline.apply(
            session,
            runtime.connectors["events"],
            [SourceRecord("contact", d["id"], d, AT) for d in (bob, robert)],
        )
    with runtime.read_sessions() as session:
        assert pending(session) == 2
    assert _candidates(runtime) == 0  # nothing scored in the write path
    stop = threading.Event()
    worker = threading.Thread(target=Worker(runtime, worker_id="w").run_forever, args=(stop,))
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while _candidates(runtime) == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(timeout=30)
    assert _candidates(runtime) == 1
    with runtime.read_sessions() as session:
        assert pending(session) == 0
