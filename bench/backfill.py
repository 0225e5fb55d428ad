"""Backfill: a full sync of contacts from a sandbox (in another process) into a store,
records per second and this process's peak memory, sampled as the run goes.

Usage: python bench/backfill.py salesforce|hubspot STORE_URL SANDBOX_URL FACTS_JSON
       [PROFILE_PATH|-] [MAX_SECONDS]

With MAX_SECONDS the run stops after the first page committed past that time (the
status says ``timeboxed``) and the rate is what it reached by then.
"""

from __future__ import annotations

import cProfile
import json
import resource
import sys
import time
from typing import Any

from bench.common import hub_config


def connector_config(kind: str, url: str, facts: dict[str, str]) -> dict[str, Any]:
    if kind == "salesforce":
        settings: dict[str, Any] = {
            "auth": "password", "sandbox_url": url, "org_id": facts["org_id"],
            "username": facts["username"], "password": facts["password"],
            "security_token": facts["token"],
        }  # fmt: skip
    else:
        settings = {
            "portal_id": int(facts["portal_id"]), "access_token": facts["token"],
            "app_client_secret": "bench-client-secret-0123456789", "api_host": url,
            "page_size": 100,
            "rate_limits": {"per_ten_seconds": 1_000_000, "daily": 100_000_000,
                            "search_per_second": 10_000},
        }  # fmt: skip
    return {"name": "crm", "type": kind, "settings": settings}


class TimeBoxed(Exception):
    """Raised from the progress callback to end a run at its time box."""


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    kind, store, url, facts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    profile_path = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] != "-" else None
    max_seconds = float(sys.argv[6]) if len(sys.argv) > 6 else None
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict
    from hub.sync import run_stream

    config = hub_config(store, connectors=[connector_config(kind, url, facts)])
    runtime = Runtime.build(settings_from_dict(config, env={}))
    connector = runtime.connectors["crm"]
    stream = next(s for s in connector.streams() if s.name == "contacts")
    curve: list[tuple[int, float]] = []
    baseline = rss_mb()

    def progress(run: Any, _estimate: int | None) -> None:
        if run.pages % 10 == 1:
            curve.append((run.records_read, round(rss_mb(), 1)))
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            raise TimeBoxed

    profiler = cProfile.Profile() if profile_path else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    run = run_stream(runtime, connector, stream, full=True, progress=progress)
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_path)
    took = time.perf_counter() - started
    runtime.close()
    print(
        json.dumps(
            {
                "connector": kind,
                "status": "timeboxed" if "TimeBoxed" in (run.error or "") else run.status,
                "error": None
                if "TimeBoxed" in (run.error or "")
                else (run.error or "")[:400] or None,
                "records": run.records_read,
                "seconds": round(took, 2),
                "records_per_s": round(run.records_read / took, 1),
                "rss_start_mb": round(baseline, 1),
                "peak_rss_mb": round(rss_mb(), 1),
                "rss_curve": curve[:: max(1, len(curve) // 8)] + curve[-1:],
            }
        )
    )


if __name__ == "__main__":
    main()
