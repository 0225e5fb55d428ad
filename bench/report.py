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
             "| server | acked/s | p50 ms | p99 ms | stored = acked | ratio to no-op "
             "| server CPU ms/req | load avg 1 min |",
             "|---|---|---|---|---|---|---|---|",
             f"| no-op Flask | {base['rps']} | {base['p50_ms']} | {base['p99_ms']} "
             f"| n/a | 1.0 | {base.get('server_cpu_ms_per_req', 'n/a')} "
             f"| {base.get('load_avg_1m', 'n/a')} |"]  # fmt: skip
    for store in ("sqlite", "postgresql"):
        if store in r:
            x = r[store]
            lines.append(
                f"| hub on {store} | {x['rps']} | {x['p50_ms']} | {x['p99_ms']} | "
                f"{x['durable']} ({x['stored']}/{x['ok']}) | {x['ratio']} "
                f"({_verdict(x['ratio'] >= goals['intake_ratio'])}) | "
                f"{x.get('server_cpu_ms_per_req', 'n/a')} | {x.get('load_avg_1m', 'n/a')} |"
            )
    if len(r.get("rounds", [])) > 1:
        lines += ["", "Every round (no-op req/s; hub req/s and ratio per store): " + "; ".join(
            f"{n}: {x['baseline_rps']}, " + ", ".join(
                f"{store} {x[store]['rps']} ({x[store]['ratio']})"
                for store in ("sqlite", "postgresql") if store in x)
            for n, x in enumerate(r["rounds"], 1))]  # fmt: skip
    return lines


def _pipeline(r: dict[str, Any], goals: dict[str, Any]) -> list[str]:
    lines = ["## Pipeline (inbox → store)", "",
             "| store | workers | events | seconds | events/s | per worker/s "
             "| worker CPU ms/event | PostgreSQL CPU ms/event | load avg 1 min "
             "| then candidates scored/s |",
             "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for store, runs in r.items():
        for x in runs:
            ok = x["per_worker_per_s"] >= goals["pipeline_per_worker"]
            scoring = x.get("candidates") or {}
            lines.append(
                f"| {store} | {x['workers']} | {x['events']} | {x['seconds']} | "
                f"{x['events_per_s']} | {x['per_worker_per_s']} ({_verdict(ok)}) | "
                f"{x.get('worker_cpu_ms_per_event', 'n/a')} | "
                f"{x.get('postgresql_cpu_ms_per_event') or 'n/a'} | "
                f"{x.get('load_avg_1m', 'n/a')} | "
                f"{scoring.get('per_s', 'n/a')} ({scoring.get('contacts_scored', 0)} contacts) |"
            )
    return lines


def _backfill(r: dict[str, Any], goals: dict[str, Any]) -> list[str]:
    lines = ["## Backfill (full sync of contacts from the sandbox, sandbox in its own process)",
             "", "Hub RSS is the measuring process's peak; the sandbox's is its own process "
             "(after seeding, and its peak by the end of the run).", "",
             "| source → store / records | status | records | seconds | records/s | "
             "hub peak RSS MB (start) | sandbox RSS MB: seeded / peak (seed s) | "
             "hub RSS curve (records, MB) | hub CPU curve (records, µs per record) |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    splits = []
    for key, x in r.items():
        if "split" in x:
            splits.append((key, x))
            continue
        if "error" in x and "records_per_s" not in x:
            lines.append(f"| {key} | failed: {x['error'][:200]} | | | | | | | |")
            continue
        ok = x["records_per_s"] >= goals["backfill_rps"]
        mem_ok = x["peak_rss_mb"] < goals["backfill_mb"]
        box = x.get("sandbox") or {}
        seeded = (box.get("after_seed") or {}).get("rss_mb", "?")
        lines.append(
            f"| {key} | {x['status']} | {x['records']} | {x['seconds']} | "
            f"{x['records_per_s']} ({_verdict(ok)}) | {x['peak_rss_mb']} ({x['rss_start_mb']}, "
            f"{_verdict(mem_ok)}) | {seeded} / {box.get('peak_rss_mb', '?')} "
            f"({box.get('seed_s', '?')}) | {x['rss_curve']} | {x.get('cpu_curve', '')} |"
        )
    for key, x in splits:
        lines += ["", f"### Where a backfill's time goes: {key} ({x['records']} records, "
                  f"{x['records_per_s']} records/s under cProfile, one thread)", "",
                  "| part (cumulative; nested parts overlap) | seconds |", "|---|---|"]  # fmt: skip
        lines += [f"| {row['part']} | {row['seconds']} |" for row in x["split"]]
    return lines


def _context(r: dict[str, Any], goals: dict[str, Any]) -> list[str]:
    """Context lookups and webhook → pop per store, beside the issue's goals."""
    lines = ["## Context store (bench/dataset.py, kept by bench/dataset_cache.py)", "",
             "| store | contacts | interactions | rows loaded in s | indexes in s | total s "
             "| size MB | cached |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for store, x in r.items():
        d = x["dataset"]
        lines.append(
            f"| {store} | {x['contacts']} | {x['interactions']} | {d.get('rows_seconds')} | "
            f"{d.get('index_seconds')} | {d.get('load_seconds')} | {d.get('size_mb')} | "
            f"{d.get('cached')} |"
        )
    busy = "; ".join(f"{store} {x.get('load_average')}" for store, x in r.items())
    lines += ["", f"1-minute load average at the start and end of each store's run: {busy} "
              "(2 CPUs; other work on the machine stretches every figure)."]  # fmt: skip
    setups = {x["lookups"].get("setup", "") for x in r.values() if "lookups" in x}
    lines += ["", "## Context lookup (`GET /api/v1/context`) over HTTP", "", *setups, "",
              "| store | lookup | n | p50 ms | p95 ms | p99 ms | max ms | wrong answers |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for store, x in r.items():
        runs = [("", x["lookups"])]
        if "recurring" in x["lookups"]:
            runs.append(("recurring callers: ", x["lookups"]["recurring"]))
        for prefix, found in runs:
            for kind, v in [("all", found["all"]), *found["kinds"].items()]:
                wrong = (found["wrong"].get(kind, 0) if kind != "all"
                         else sum(found["wrong"].values()))  # fmt: skip
                ok = v["p99_ms"] < goals["lookup_p99_ms"]
                lines.append(
                    f"| {store} | {prefix}{kind} | {v['n']} | {v['p50_ms']} | {v['p95_ms']} | "
                    f"{v['p99_ms']} ({_verdict(ok)}) | {v['max_ms']} | {wrong} |"
                )
    lines += ["", "Lookups draw from all the contacts (pages nobody read lately), then from "
              "500 recurring callers (their pages in memory). OS page cache (MB) before and "
              "after each run: " + "; ".join(
                  f"{store} {x['lookups'].get('page_cache_mb')} / "
                  f"{x['lookups'].get('recurring', {}).get('page_cache_mb')}"
                  for store, x in r.items())]  # fmt: skip
    lines += ["", "## Webhook → pop delivered", "",
              "Signed `interaction.started` posted → the pop read from the agent's panel "
              "stream (Server-Sent Events) and received by a signed-webhook sink.", ""]  # fmt: skip
    lines += [f"- {store}: {x['pops']['setup']}" for store, x in r.items() if "pops" in x]
    lines += ["", "| store | target | n | lost | p50 ms | p95 ms | p99 ms | max ms |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for store, x in r.items():
        for target, v in x.get("pops", {}).get("targets", {}).items():
            ok = v["p99_ms"] < goals["pop_p99_ms"]
            lines.append(
                f"| {store} | {target} | {v['n']} | {v['lost']} | {v['p50_ms']} | "
                f"{v['p95_ms']} | {v['p99_ms']} ({_verdict(ok)}) | {v['max_ms']} |"
            )
    lines += ["", "Stages, from the outbox's clocks (`deliveries.received_at`, `created_at`, "
              "`delivered_at`):", "", "| store | target | received → queued p50 / p99 ms "
              "| queued → delivered p50 / p99 ms |", "|---|---|---|---|"]  # fmt: skip
    for store, x in r.items():
        for target, v in x.get("pops", {}).get("stages", {}).items():
            if "received_to_queued" not in v:  # the inbox's own figure
                lines.append(f"| {store} | {target} | {v['p50_ms']} / {v['p99_ms']} | |")
                continue
            a, b = v["received_to_queued"], v["queued_to_delivered"]
            lines.append(f"| {store} | {target} | {a['p50_ms']} / {a['p99_ms']} | "
                         f"{b['p50_ms']} / {b['p99_ms']} |")  # fmt: skip
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
        "context": lambda r: _context(r, goals),
    }  # fmt: skip
    for name, render in renderers.items():
        if name not in report:
            continue
        if _err(report[name]):
            out += [f"## {name}", "", f"FAILED: {report[name]['error']}", ""]
            continue
        out += [*render(report[name]), ""]
    if "profile" in report and not _err(report["profile"]):
        for name, p in report["profile"].items():
            out += _profile(f"{name} on postgresql", p)
        if "in_process_per_s" in report["profile"].get("intake", {}):
            out.append(f"Intake app in process: {report['profile']['intake']['in_process_per_s']}"
                       " requests/s (no server, no network).")  # fmt: skip
    return "\n".join(out) + "\n"
