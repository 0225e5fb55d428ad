"""Backfill: a full sync of contacts from a sandbox (in another process) into a store,
records per second and this process's peak memory, sampled as the run goes.

Usage: python bench/backfill.py salesforce|hubspot STORE_URL SANDBOX_URL FACTS_JSON
       [PROFILE_PATH|-] [MAX_SECONDS]

With MAX_SECONDS the run stops after the first page committed past that time (the
status says ``timeboxed``) and the rate is what it reached by then. With a profile
the run reads its pages in the measuring thread (cProfile sees one thread), so a
profiled run is slower than a measured one and only its split is reported.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import resource
import sys
import time
from itertools import pairwise
from typing import Any

from bench.common import hub_config

#: Where a backfill's time goes: (label, file fragment, function name), cumulative
#: seconds. They overlap (the store write includes its commits' share of nothing
#: else; "read" includes sandbox wait, HTTP, JSON and the client library).
SOCKET_READ = "<method 'recv_into' of '_socket.socket' objects>"
SPLIT = (
    ("total: run_stream", "hub/sync.py", "run_stream"),
    ("read pages (connector, HTTP, JSON, client library)", "/streams.py", "read"),
    ("  of which waiting for the sandbox (socket reads)", "", SOCKET_READ),
    ("  of which budget bookkeeping (hub/context.py)", "hub/context.py", "take_budget"),
    ("  of which budget observations", "hub/context.py", "observe_budget"),
    ("commit a page (sync.py _commit_page)", "hub/sync.py", "_commit_page"),
    ("  of which mapping (hub/mapping.py)", "hub/mapping.py", "apply"),
    ("    of which phone parsing (phonenumbers)", "phonenumbers/phonenumberutil.py", "parse"),
    ("  of which bulk store write (hub/store/bulk.py)", "hub/store/bulk.py", "apply_contact_page"),
    ("    of which candidate scoring", "hub/identity/candidates.py", "refresh_candidates"),
    ("  of which transaction commits", "sqlalchemy/orm/session.py", "commit"),
    ("JSON decoding, anywhere (vendor answers, JSON columns)", "json/decoder.py", "raw_decode"),
)  # fmt: skip


def connector_config(kind: str, url: str, facts: dict[str, str]) -> dict[str, Any]:
    if kind == "salesforce":
        settings: dict[str, Any] = {
            "auth": "password", "sandbox_url": url, "org_id": facts["org_id"],
            "username": facts["username"], "password": facts["password"],
            "security_token": facts["token"],
            # The largest query a backfill may run: fewer keyset restarts at 1M.
            "streams": {"contacts": {"page_size": 2000, "query_limit": 50_000,
                                     "read_ahead": True}},
        }  # fmt: skip
    else:
        # Pages of 2,000 records, as connectors/hubspot/README.md advises and as the
        # Salesforce run stores them (1,000 cost ~8 % more hub CPU on SQLite: commits).
        settings = {
            "portal_id": int(facts["portal_id"]), "access_token": facts["token"],
            "app_client_secret": "bench-client-secret-0123456789", "api_host": url,
            "page_size": 100, "read_ahead": True, "backfill_page_records": 2000,
            "rate_limits": {"per_ten_seconds": 1_000_000, "daily": 100_000_000,
                            "search_per_second": 10_000},
        }  # fmt: skip
    return {"name": "crm", "type": kind, "settings": settings}


class TimeBoxed(Exception):
    """Raised from the progress callback to end a run at its time box."""


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_curve(points: list[tuple[int, float]]) -> list[tuple[int, int]]:
    """(records, hub CPU µs per record since the previous point), about 8 points: how
    the cost of a record grows with the store (process CPU survives a busy machine
    better than wall time; it includes the read-ahead thread)."""
    pairs = [
        (n1, round((c1 - c0) / (n1 - n0) * 1e6))
        for (n0, c0), (n1, c1) in pairwise(points)
        if n1 > n0
    ]
    thin = pairs[:: max(1, len(pairs) // 8)]
    return thin if thin[-1:] == pairs[-1:] else [*thin, pairs[-1]]


def split(profile: cProfile.Profile) -> list[dict[str, Any]]:
    """Cumulative seconds of the :data:`SPLIT` functions (summed over matches)."""
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    out = []
    for label, fragment, name in SPLIT:
        seconds = sum(
            row[3]
            for (path, _line, func), row in stats.items()
            if func == name and fragment in path
        )
        out.append({"part": label, "seconds": round(seconds, 2)})
    return out


def main() -> None:
    kind, store, url, facts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    profile_path = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    max_seconds = float(sys.argv[6]) if len(sys.argv) > 6 else None
    from hub.heap import settle_after_startup
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict
    from hub.sync import run_stream

    config = hub_config(store, connectors=[connector_config(kind, url, facts)])
    runtime = Runtime.build(settings_from_dict(config, env={}))
    settle_after_startup()  # as `threadline sync` and the scheduler do (hub/cli/)
    connector = runtime.connectors["crm"]
    stream = next(s for s in connector.streams() if s.name == "contacts")
    curve: list[tuple[int, float]] = []
    cpu: list[tuple[int, float]] = [(0, time.process_time())]
    baseline = rss_mb()
    step = 20_000  # a point per 20k records, whatever the vendor's page size

    def progress(run: Any, _estimate: int | None) -> None:
        if not curve or run.records_read // step > curve[-1][0] // step:
            curve.append((run.records_read, round(rss_mb(), 1)))
            cpu.append((run.records_read, time.process_time()))
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            raise TimeBoxed

    profiler = cProfile.Profile() if profile_path else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    run = run_stream(
        runtime, connector, stream, full=True, progress=progress,
        prefetch=False if profiler else None,
    )  # fmt: skip
    if profiler is not None and profile_path is not None:
        profiler.disable()
        profiler.dump_stats(profile_path)
    took = time.perf_counter() - started
    cpu.append((run.records_read, time.process_time()))
    prefetched = runtime.engine.dialect.name == "postgresql" and profiler is None
    runtime.close()
    timeboxed = "TimeBoxed" in (run.error or "")
    result: dict[str, Any] = {
        "connector": kind,
        "status": "timeboxed" if timeboxed else run.status,
        "error": None if timeboxed else (run.error or "")[:400] or None,
        "records": run.records_read,
        "pages": run.pages,
        "api_calls": run.api_calls,
        "seconds": round(took, 2),
        "records_per_s": round(run.records_read / took, 1),
        "prefetch": prefetched,
        "rss_start_mb": round(baseline, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "rss_curve": [*curve[:: max(1, len(curve) // 8)], (run.records_read, round(rss_mb(), 1))],
        "cpu_curve": cpu_curve(cpu),
    }
    if profiler:
        result["split"] = split(profiler)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
