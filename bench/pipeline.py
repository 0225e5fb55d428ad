"""Pipeline: events per second from the inbox to the store, with 1, 2 and 4 worker
processes (each a ``Worker.run_once`` loop until the inbox is empty), then the candidate
scoring the run queued, drained by one scorer.

Each worker process applies one batch of other events before the clock starts (the
steady state is what a long-running worker sees). Wall figures on a shared machine are
noisy; beside them each run reports CPU per event in the worker processes (their own
``time.process_time``) and in PostgreSQL (the database's backends, read from ``/proc``
while the run lasts: PostgreSQL must run on this host, as it does for ``make bench``),
and the load average."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import hub_config


def event(i: int) -> tuple[str, str, dict[str, Any]]:
    """Half contact updates, half calls on those contacts (each call pops)."""
    n, phone = i // 2, f"+1415{i // 2:07d}"
    data: dict[str, Any]
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


def prefill(url: str, total: int, first: int = 0) -> None:
    """Store ``total`` events (numbered from ``first``) as intake would (raw delivery +
    inbox rows), in bulk."""
    from hub import inbox
    from hub.plugin import InboundEvent
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict
    from hub.store.db import transaction
    from webhooks import RawRequest

    runtime = Runtime.build(settings_from_dict(hub_config(url), env={}))
    try:
        for start in range(first, first + total, 500):
            batch = [event(i) for i in range(start, min(first + total, start + 500))]
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
    """One worker process; a failure is reported on ``queue`` at once (the parent
    would otherwise wait out its timeout for a result that never comes)."""
    try:
        _run_worker(url, name, start, queue)
    except Exception as exc:
        queue.put(("failed", f"{name}: {type(exc).__name__}: {str(exc)[:300]}"))
        raise


def _run_worker(url: str, name: str, start: Any, queue: Any) -> None:
    from hub.batch_loop import settle_heap
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict
    from hub.worker import Worker

    runtime = Runtime.build(settings_from_dict(hub_config(url), env={}))
    worker = Worker(runtime, worker_id=name)
    # One warm-up batch before the clock: a new process (and its new PostgreSQL
    # backend) spends ~130 ms of CPU on its first batch (statement compilation, catalog
    # caches), once in its life but four times in a short four-worker run.
    warm = worker.run_once()
    settle_heap()  # what the worker loop does after its first batch
    queue.put(("ready", warm))
    start.wait()
    began, cpu, total = time.perf_counter(), time.process_time(), 0
    with worker.batches() as batches:  # the loop Worker.run_forever runs
        while n := batches.run_once():
            total += n
    queue.put((name, total, began, time.perf_counter(), time.process_time() - cpu))
    runtime.close()


def run_workers(url: str, total: int, workers: int) -> dict[str, Any]:
    batch = hub_config(url)["hub"]["worker"]["batch_size"]
    prefill(url, batch * workers, first=total)  # one warm-up batch each, claimed first
    prefill(url, total)
    ctx = multiprocessing.get_context("spawn")
    start, queue = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_work, args=(url, f"w{i}", start, queue)) for i in range(workers)]
    for proc in procs:
        proc.start()
    warmed = [queue.get(timeout=300)[1] for _ in procs]  # every process imported and warm
    if warmed != [batch] * workers:
        raise RuntimeError(f"warm-up batches of {warmed} events, expected {batch} each")
    server = _ServerCpu(url)
    began = time.perf_counter()
    start.set()
    results = [queue.get(timeout=1800) for _ in procs]
    took = time.perf_counter() - began
    failed = [r[1] for r in results if r[0] == "failed"]
    if failed:
        raise RuntimeError(f"worker process failed: {failed}")
    server_cpu = server.stop()
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
        "worker_cpu_ms_per_event": round(sum(r[4] for r in results) * 1000 / done, 3),
        "postgresql_cpu_ms_per_event": (
            round(server_cpu * 1000 / done, 3) if server_cpu is not None else None
        ),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        # Candidate scoring left the write path (hub/identity/candidate_queue.py): the
        # contacts the run queued, scored afterwards by one scorer, are the rest of the
        # work the events caused.
        "candidates": scoring,
    }


class _ServerCpu:
    """CPU seconds the database's PostgreSQL backends spend from now until :meth:`stop`
    (their ``/proc/<pid>/stat``, sampled every 50 ms as backends come and go); None
    when PostgreSQL is not on this host or the store is SQLite."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import text

        from hub.store.db import make_engine

        self.seen: dict[int, float] = {}
        self.done = threading.Event()
        self.engine = make_engine(url, pool_size=1)
        self.query = text(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        self.before: dict[int, float] = {}
        self.thread = threading.Thread(target=self._watch, daemon=True)
        if self.engine.dialect.name == "postgresql":
            self.before = self._sample()  # backends started later count from zero
            self.thread.start()

    def _sample(self) -> dict[int, float]:
        with self.engine.connect() as conn:
            pids = list(conn.execute(self.query).scalars())
        return {pid: cpu for pid in pids if (cpu := _proc_cpu(pid)) is not None}

    def _watch(self) -> None:
        while not self.done.wait(0.05):
            self.seen.update(self._sample())

    def stop(self) -> float | None:
        running = self.thread.is_alive()
        self.done.set()
        if running:
            self.thread.join()
            self.seen.update(self._sample())
        self.engine.dispose()
        if not running or not (self.seen or self.before):
            return None
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in self.seen.items())


def _proc_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
