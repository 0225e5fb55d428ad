"""Render ``latest.json`` as the Markdown report: figures beside goals, then profiles."""

from __future__ import annotations

from typing import Any


def _verdict(ok: bool) -> str:
    return "meets goal" if ok else "**below goal**"


def _err(section: Any) -> str | None:
    return section.get("error") if isinstance(section, dict) else None


def _intake(r: dict[str, Any], goals: dict[str, Any]) -> list[str]:
    base = r["baseline"]
    lines = ["## Intake (signed webhooks acknowledged durably)", "", r.get("setup", ""), "",
             "| server | acked/s | p50 ms | p99 ms | stored = acked | ratio to no-op |",
             "|---|---|---|---|---|---|",
             f"| no-op Flask | {base['rps']} | {base['p50_ms']} | {base['p99_ms']} "
             "| n/a | 1.0 |"]  # fmt: skip
    for store in ("sqlite", "postgresql"):
        if store in r:
            x = r[store]
            lines.append(
                f"| hub on {store} | {x['rps']} | {x['p50_ms']} | {x['p99_ms']} | "
                f"{x['durable']} ({x['stored']}/{x['ok']}) | {x['ratio']} "
                f"({_verdict(x['ratio'] >= goals['intake_ratio'])}) |"
            )
    return lines


def _pipeline(r: dict[str, Any], goals: dict[str, Any]) -> list[str]:
    lines = ["## Pipeline (inbox → store)", "",
             "| store | workers | events | seconds | events/s | per worker/s |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for store, runs in r.items():
        for x in runs:
            ok = x["per_worker_per_s"] >= goals["pipeline_per_worker"]
            lines.append(
                f"| {store} | {x['workers']} | {x['events']} | {x['seconds']} | "
                f"{x['events_per_s']} | {x['per_worker_per_s']} ({_verdict(ok)}) |"
            )
    return lines


def _backfill(r: dict[str, Any], goals: dict[str, Any]) -> list[str]:
    lines = ["## Backfill (full sync of contacts from the sandbox, sandbox in its own process)",
             "", "| source → store | status | records | seconds | records/s | peak RSS MB "
             "(start) | RSS curve (records, MB) |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, x in r.items():
        ok = x["records_per_s"] >= goals["backfill_rps"]
        lines.append(
            f"| {key} | {x['status']} | {x['records']} | {x['seconds']} | "
            f"{x['records_per_s']} ({_verdict(ok)}) | {x['peak_rss_mb']} ({x['rss_start_mb']}) | "
            f"{x['rss_curve']} |"
        )
    return lines


def _latency(title: str, r: dict[str, Any], goal: float, extra: str) -> list[str]:
    lines = [f"## {title}", "", extra, "", "| store | shape | p50 ms | p99 ms | max ms |",
             "|---|---|---|---|---|"]  # fmt: skip
    for store, x in r.items():
        shape = (
            f"{x['contacts']} contacts, {x['interactions']} interactions"
            if "contacts" in x
            else f"{x['samples']} pops, {x['lost']} lost"
        )
        lines.append(
            f"| {store} | {shape} | {x['p50_ms']} | {x['p99_ms']} "
            f"({_verdict(x['p99_ms'] < goal)}) | {x['max_ms']} |"
        )
    return lines


def _profile(name: str, p: dict[str, Any]) -> list[str]:
    lines = [f"### Profile: {name} (total {p['total_s']} s profiled)", "",
             "| function (self time) | calls | self s | share |", "|---|---|---|---|"]  # fmt: skip
    lines += [f"| `{r['function']}` | {r['calls']} | {r['tottime_s']} | {r['share']:.1%} |"
              for r in p["top_self"][:10]]  # fmt: skip
    lines += ["", "| hub code (cumulative) | calls | cum s |", "|---|---|---|"]
    lines += [f"| `{r['function']}` | {r['calls']} | {r['cumtime_s']} |"
              for r in p["top_own_cumulative"][:10]]  # fmt: skip
    return [*lines, ""]


def markdown(report: dict[str, Any]) -> str:
    goals, m = report["goals"], report["machine"]
    out = [f"# Threadline benchmarks ({report['size']})", "",
           f"Machine: {m['cpus']} CPUs, {m['platform']}, Python {m['python']}, "
           f"PostgreSQL {m['postgres']}, SQLite {m['sqlite']}. Started {report['started']}, "
           f"took {report.get('total_s')} s. Sizes: `{report['sizes']}`.", ""]  # fmt: skip
    renderers = {
        "intake": lambda r: _intake(r, goals),
        "pipeline": lambda r: _pipeline(r, goals),
        "backfill": lambda r: _backfill(r, goals),
        "context": lambda r: _latency(
            "Context lookup (`GET /api/v1/context?phone=`)", r, goals["lookup_p99_ms"],
            "Server-side: the WSGI app in process, random known numbers, E.164 and national."),
        "pop": lambda r: _latency(
            "Webhook → pop", r, goals["pop_p99_ms"],
            "Signed `interaction.started` to `threadline serve` → pop at a signed-webhook sink."),
    }  # fmt: skip
    for name, render in renderers.items():
        if name not in report:
            continue
        if _err(report[name]):
            out += [f"## {name}", "", f"FAILED: {report[name]['error']}", ""]
            continue
        out += [*render(report[name]), ""]
    if "context" in report and not _err(report["context"]):
        for store, x in report["context"].items():
            out += _profile(f"context lookup on {store}", x["profile"])
    if "profile" in report and not _err(report["profile"]):
        for name, p in report["profile"].items():
            out += _profile(f"{name} on postgresql", p)
        if "in_process_per_s" in report["profile"].get("intake", {}):
            out.append(f"Intake app in process: {report['profile']['intake']['in_process_per_s']}"
                       " requests/s (no server, no network).")  # fmt: skip
    return "\n".join(out) + "\n"
