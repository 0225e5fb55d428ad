"""Pipeline: events per second from the inbox to the store, with 1, 2 and 4 worker
processes (each a ``Worker.run_once`` loop until the inbox is empty), then the candidate
scoring the run queued, drained by one scorer."""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from typing import Any

from bench.common import hub_config


def event(i: int) -> tuple[str, str, dict[str, Any]]:
    """Half contact updates, half calls on those contacts (each call pops)."""
    n, phone = i // 2, f"+1415{i // 2:07d}"
    if i % 2 == 0:
        data = {
            "id": f"c-{n}", "first_name": "Ada", "last_name": f"L{n}",
            "emails": [f"p{n}@example.com"], "phones": [phone],
            "updated_at": "2026-11-01T10:00:00Z",
        }  # fmt: skip
        return f"evt-{i}", "contact.updated", {"type": "contact.updated", "data": data}
    data = {
        "id": f"call-{n}", "channel": "voice", "direction": "inbound",
        "occurred_at": "2026-11-01T10:05:00Z", "status": "ringing", "summary": "Billing",
        "agent": "agent-7", "contact": {"phone": phone},
    }  # fmt: skip
    return f"evt-{i}", "interaction.started", {"type": "interaction.started", "data": data}


def prefill(url: str, total: int) -> None:
    """Store ``total`` events as intake would (raw delivery + inbox rows), in bulk."""
    from hub import inbox
    from hub.plugin import InboundEvent
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict
    from hub.store.db import transaction
    from webhooks import RawRequest

    runtime = Runtime.build(settings_from_dict(hub_config(url), env={}))
    try:
        for start in range(0, total, 500):
            batch = [event(i) for i in range(start, min(total, start + 500))]
            raw = RawRequest.build("POST", "http://bench/webhooks/events", {}, b"{}")
            with transaction(runtime.sessions) as session:
                inbox.store_events(
                    session,
                    connector="events",
                    endpoint="",
                    raw=raw,
                    events=[InboundEvent(k, t, p) for k, t, p in batch],
                )
    finally:
        runtime.close()


def _work(url: str, name: str, start: Any, queue: Any) -> None:
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict
    from hub.worker import Worker

    runtime = Runtime.build(settings_from_dict(hub_config(url), env={}))
    worker = Worker(runtime, worker_id=name)
    start.wait()
    began, total = time.perf_counter(), 0
    while n := worker.run_once():
        total += n
    queue.put((name, total, began, time.perf_counter()))
    runtime.close()


def run_workers(url: str, total: int, workers: int) -> dict[str, Any]:
    prefill(url, total)
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_work, args=(url, f"w{i}", start, queue)) for i in range(workers)]
    for proc in procs:
        proc.start()
    time.sleep(1.5)  # let every process import and connect before the clock starts
    began = time.perf_counter()
    start.set()
    results = [queue.get(timeout=1800) for _ in procs]
    took = time.perf_counter() - began
    for proc in procs:
        proc.join()
    done = sum(r[1] for r in results)
    scoring = _score_queue(url)
    return {
        "workers": workers,
        "events": done,
        "seconds": round(took, 3),
        "events_per_s": round(done / took, 1),
        "per_worker_per_s": round(done / took / workers, 1),
        "split": {r[0]: r[1] for r in results},
        # Candidate scoring left the write path (hub/identity/candidate_queue.py): the
        # contacts the run queued, scored afterwards by one scorer, are the rest of the
        # work the events caused.
        "candidates": scoring,
    }


def _score_queue(url: str) -> dict[str, Any]:
    from hub.identity.candidate_queue import drain
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict

    runtime = Runtime.build(settings_from_dict(hub_config(url), env={}))
    try:
        began = time.perf_counter()
        scored = drain(runtime.sessions, runtime.pipeline.identity, worker_id="bench")
        took = time.perf_counter() - began
    finally:
        runtime.close()
    return {
        "contacts_scored": scored,
        "seconds": round(took, 3),
        "per_s": round(scored / took, 1) if took else None,
    }


if __name__ == "__main__":
    print(json.dumps(run_workers(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
