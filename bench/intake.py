"""Intake: signed webhooks acknowledged durably per second, beside a no-op Flask
endpoint served the same way (gunicorn, same workers and threads) on the same machine."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from bench.common import (
    SECRET,
    count_rows,
    free_port,
    hub_config,
    run_json,
    serve,
    stop,
    write_config,
)

# The production setting of ``threadline web`` (its defaults), used for both servers:
# one worker per core, and 8 threads each, since intake threads mostly wait on a
# shared commit (more threads, larger group commits); the no-op is not hurt by them.
WORKERS, THREADS = 2, 8


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of ``pid`` and its children, from /proc (Linux only)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, found = 0.0, False
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid or stat.parent.name == str(pid):  # ppid, or pid itself
            total += (int(fields[11]) + int(fields[12])) / tick
            found = True
    return total if found else None


def _load(
    port: int, count: int, seconds: float, clients: int, server: int | None = None
) -> dict[str, Any]:
    """Run the load generator; with ``server``, also the server's CPU ms per 2xx."""
    url = f"http://127.0.0.1:{port}/webhooks/events"
    args = ["bench/loadgen.py", url, SECRET, str(count), str(seconds), str(clients)]
    before = _cpu_seconds(server) if server else None
    load = os.getloadavg()[0]  # other work on the machine skews every figure; say how much
    result = run_json(args, timeout=seconds + 120)
    result["load_avg_1m"] = round(load, 2)
    after = _cpu_seconds(server) if server else None
    if before is not None and after is not None and result["ok"]:
        result["server_cpu_ms_per_req"] = round((after - before) * 1000 / result["ok"], 3)
    return result


def noop_baseline(folder: Path, count: int, seconds: float, clients: int) -> dict[str, Any]:
    port = free_port()
    command = [
        sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "--threads", str(THREADS),
        "-b", f"127.0.0.1:{port}", "bench.noop_app:app",
    ]  # fmt: skip
    proc = serve(command, port, folder / "noop.log")
    try:
        _load(port, min(500, count), 10, clients)  # warm up
        return _load(port, count, seconds, clients, proc.pid)
    finally:
        stop(proc)


def hub_intake(url: str, folder: Path, count: int, seconds: float, clients: int) -> dict[str, Any]:
    port = free_port()
    config = write_config(hub_config(url), folder)
    command = [
        sys.executable, "-m", "hub.cli", "--config", str(config), "web", "--port", str(port),
        "--workers", str(WORKERS), "--threads", str(THREADS),
    ]  # fmt: skip
    proc = serve(command, port, folder / "web.log")
    try:
        _load(port, min(300, count), 10, clients)  # warm up (these events are stored too)
        before = count_rows(url, "inbox_events")
        result = _load(port, count, seconds, clients, proc.pid)
    finally:
        stop(proc)
    stored = count_rows(url, "inbox_events") - before
    result["stored"] = stored
    result["durable"] = stored == result["ok"]
    return result


def median_round(played: list[dict[str, Any]], stores: list[str]) -> dict[str, Any]:
    """The report's figures from rounds of runs: per server the run with the median
    ratio (the no-op: the median rate), and every round's rates and ratios beside."""

    def median_by(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
        return sorted(runs, key=lambda run: run[key])[(len(runs) - 1) // 2]

    out: dict[str, Any] = {"baseline": median_by([r["baseline"] for r in played], "rps")}
    for store in stores:
        out[store] = median_by([r[store] for r in played], "ratio")
    out["rounds"] = [
        {"baseline_rps": r["baseline"]["rps"]}
        | {store: {"rps": r[store]["rps"], "ratio": r[store]["ratio"]} for store in stores}
        for r in played
    ]
    return out
