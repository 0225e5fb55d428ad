"""``make bench`` (``python -m bench``): the figures, on SQLite and PostgreSQL in one run.

Writes ``bench/reports/latest.json`` and ``latest.md`` and prints the Markdown.
``--full`` uses the issue's sizes (100k backfill, 1M contacts with 10M interactions);
the default "quick" sizes keep a run under ten minutes on a 2-core machine. The context
store is built once per size and cached under ``bench/reports/data`` (SQLite) and as
``threadline_benchdata_*`` databases (PostgreSQL); delete them to rebuild.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import context, intake, pipeline, profiles
from bench.backfill import main as _backfill_main  # noqa: F401 - imported to fail early
from bench.common import PG_ADMIN_URL, REPO, env, fresh_store, scratch

REPORTS = REPO / "bench" / "reports"
SIZES = {
    "smoke": {"intake": (400, 5.0, 1), "pipeline": 300, "backfill": [1000],
              "backfill_seconds": 30, "contacts": (2000, 2), "lookups": 100, "pops": 20,
              "profile": 200},
    "quick": {"intake": (3000, 20.0, 3), "pipeline": 2000, "backfill": [20_000],
              "backfill_seconds": 45, "contacts": (100_000, 3), "lookups": 1000, "pops": 100,
              "profile": 1000},
    "full": {"intake": (20_000, 60.0, 3), "pipeline": 20_000, "backfill": [100_000, 1_000_000],
             "backfill_seconds": 1800, "contacts": (1_000_000, 10), "lookups": 7000,
             "pops": 500, "profile": 3000},
}  # fmt: skip
GOALS = {"intake_ratio": 0.6, "pipeline_per_worker": 2000, "backfill_rps": 5000,
         "backfill_mb": 500, "lookup_p99_ms": 5, "pop_p99_ms": 50}  # fmt: skip
#: "context" measures context lookups and webhook → pop on the same cached store.
ALL = ("intake", "pipeline", "backfill", "context", "profile")


def log(text: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def machine() -> dict[str, Any]:
    from sqlalchemy import text

    from hub.store.db import make_engine

    engine = make_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as conn:
            server = str(conn.execute(text("SHOW server_version")).scalar())
    finally:
        engine.dispose()
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "postgres": server,
            "sqlite": __import__("sqlite3").sqlite_version}  # fmt: skip


def bench_intake(stores: list[str], size: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Rounds of (no-op, then the hub on each store), each hub run's ratio taken to the
    no-op run just before it; the report gives the median round. This machine's speed
    drifts within minutes (the no-op alone served 2,000 to 4,000 req/s in four runs
    within two minutes), so one pair of runs minutes apart says little."""
    count, seconds, rounds = size["intake"]
    clients = 8
    played: list[dict[str, Any]] = []
    for n in range(1, rounds + 1):
        log(f"intake round {n}/{rounds}: no-op Flask baseline")
        one: dict[str, Any] = {"baseline": intake.noop_baseline(folder, count, seconds, clients)}
        for store in stores:
            log(f"intake round {n}/{rounds}: hub on {store}")
            with fresh_store(store, folder) as url:
                result = intake.hub_intake(url, folder, count, seconds, clients)
            result["ratio"] = round(result["rps"] / max(one["baseline"]["rps"], 1e-9), 3)
            one[store] = result
        played.append(one)
    out = intake.median_round(played, stores)
    out["setup"] = (
        f"gunicorn gthread, {intake.WORKERS} workers x {intake.THREADS} threads; "
        f"load: bench/loadgen.py, {clients} keep-alive connections, pre-signed bodies; "
        f"{rounds} round(s) of no-op then hub, median shown"
    )
    return out


def bench_pipeline(stores: list[str], size: dict[str, Any], folder: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for store in stores:
        counts = (1, 2, 4) if store == "postgresql" else (1,)
        out[store] = []
        for workers in counts:
            log(f"pipeline: {store}, {workers} worker(s), {size['pipeline']} events")
            with fresh_store(store, folder) as url:
                out[store].append(pipeline.run_workers(url, size["pipeline"], workers))
    return out


def _sandbox(kind: str, contacts: int) -> tuple[subprocess.Popen[str], str, str, float]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "bench/sandbox_proc.py", kind, str(contacts)],
        cwd=REPO, env=env(), stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline().split(" ", 2)
    if len(line) < 3 or line[0] != "URL":
        proc.kill()
        raise RuntimeError(f"{kind} sandbox did not start")
    return proc, line[1], line[2].strip(), round(time.perf_counter() - started, 1)


def proc_memory(pid: int) -> dict[str, float]:
    """Current and peak resident memory of another process (Linux /proc), in MB."""
    fields = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as status:
        for row in status:
            key, _, value = row.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS", 0.0), "peak_rss_mb": fields.get("VmHWM", 0.0)}


def _profiled(
    kind: str, url: str, facts: str, folder: Path, profile_dir: Path, box: float
) -> dict[str, Any]:
    """A short profiled run on PostgreSQL for the time split (its failure is recorded,
    never allowed to lose the measured runs)."""
    from bench.common import run_json

    log(f"backfill: profiling {kind} -> postgresql")
    seconds = str(min(60, box))
    try:
        with fresh_store("postgresql", folder) as store_url:
            path = str(profile_dir / f"backfill-{kind}.prof")
            args = ["bench/backfill.py", kind, store_url, url, facts, path, seconds]
            return run_json(args, timeout=float(seconds) + 900)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


def bench_backfill(
    stores: list[str],
    size: dict[str, Any],
    folder: Path,
    profile_dir: Path | None = None,
    vendors: tuple[str, ...] = ("salesforce", "hubspot"),
) -> dict[str, Any]:
    """Each size, each vendor: one sandbox process (seeded once), a measured run into
    each store, then (first size only) a profiled run on PostgreSQL for the split."""
    from bench.common import run_json

    out: dict[str, Any] = {}
    box = size["backfill_seconds"]
    for count in size["backfill"]:
        for kind in vendors:
            log(f"backfill: seeding the {kind} sandbox with {count} contacts")
            proc, url, facts, seed_s = _sandbox(kind, count)
            seeded = proc_memory(proc.pid)
            try:
                for store in stores:
                    log(f"backfill: {kind} -> {store}, {count} records")
                    try:
                        with fresh_store(store, folder) as store_url:
                            args = ["bench/backfill.py", kind, store_url, url, facts, "-", str(box)]
                            result = run_json(args, timeout=float(box) + 900)
                    except (RuntimeError, subprocess.TimeoutExpired) as exc:
                        result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                    result["sandbox"] = {"contacts": count, "seed_s": seed_s,
                                         "after_seed": seeded, **proc_memory(proc.pid)}  # fmt: skip
                    out[f"{kind}/{store}/{count}"] = result
                if profile_dir is not None and count == size["backfill"][0]:
                    out[f"{kind}/profile"] = _profiled(kind, url, facts, folder, profile_dir, box)
            finally:
                proc.kill()
                proc.wait()
    return out


def bench_context(stores: list[str], size: dict[str, Any], folder: Path) -> dict[str, Any]:
    """Context lookups over HTTP and webhook → pop, on the cached large store."""
    contacts, per = size["contacts"]
    out: dict[str, Any] = {}
    for store in stores:
        log(f"context: {contacts} contacts x {per} interactions on {store}")
        out[store] = context.run(store, contacts, per, size["lookups"], size["pops"], folder, log)
    return out


def bench_profiles(size: dict[str, Any], folder: Path) -> dict[str, Any]:
    REPORTS.mkdir(exist_ok=True)
    out: dict[str, Any] = {}
    with fresh_store("postgresql", folder) as url:
        log("profile: pipeline worker on postgresql")
        out["pipeline"] = profiles.profile_pipeline(url, size["profile"], REPORTS / "pipeline.prof")
    with fresh_store("postgresql", folder) as url:
        log("profile: intake app on postgresql")
        out["intake"] = profiles.profile_intake(url, size["profile"], REPORTS / "intake.prof")
    return out


def write_reports(report: dict[str, Any], name: str = "latest") -> str:
    from bench.report import markdown

    REPORTS.mkdir(exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(report, indent=2, default=str))
    text = markdown(report)
    (REPORTS / f"{name}.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--full", action="store_true", help="the issue's sizes (long)")
    parser.add_argument("--size", choices=sorted(SIZES), help="quick (default), full, smoke")
    parser.add_argument("--only", default=",".join(ALL), help=f"comma list of {ALL}")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--report", default="latest", help="bench/reports/NAME.json and .md")
    parser.add_argument("--backfill-sizes", help="comma list of record counts (override)")
    parser.add_argument("--backfill-vendors", default="salesforce,hubspot")
    parser.add_argument("--backfill-seconds", type=float, help="time box per run (override)")
    args = parser.parse_args(argv)
    size_name = args.size or ("full" if args.full else "quick")
    size = dict(SIZES[size_name])
    if args.backfill_sizes:
        size["backfill"] = [int(n) for n in args.backfill_sizes.split(",")]
    if args.backfill_seconds:
        size["backfill_seconds"] = args.backfill_seconds
    vendors = tuple(v for v in args.backfill_vendors.split(",") if v)
    stores = [s for s in args.stores.split(",") if s]
    only = set(args.only.split(","))
    folder = scratch()
    started = time.perf_counter()
    report: dict[str, Any] = {"size": size_name, "sizes": size,
                              "goals": GOALS, "machine": machine(),
                              "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
    steps = [("intake", lambda: bench_intake(stores, size, folder)),
             ("pipeline", lambda: bench_pipeline(stores, size, folder)),
             ("backfill", lambda: bench_backfill(stores, size, folder, REPORTS, vendors)),
             ("context", lambda: bench_context(stores, size, folder)),
             ("profile", lambda: bench_profiles(size, folder))]  # fmt: skip
    text = ""
    for name, step in steps:
        if name not in only:
            continue
        t0 = time.perf_counter()
        try:
            report[name] = step()
        except Exception as exc:  # noqa: BLE001 - one failing benchmark must not hide the rest
            report[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            log(f"{name} failed: {type(exc).__name__}: {exc}")
        report.setdefault("timings_s", {})[name] = round(time.perf_counter() - t0, 1)
        report["total_s"] = round(time.perf_counter() - started, 1)
        text = write_reports(report, args.report)  # after every step: keep what was measured
    print(text)
    with contextlib.suppress(OSError):
        import shutil

        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
