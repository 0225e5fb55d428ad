"""Operating the hub from a shell: configuration and schema checks, the inbox,
connectors and their pull streams."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import closing
from typing import Any

from hub.cli.common import Add, out, require_schema, runtime_of, settings_of
from hub.heap import settle_after_startup


def cmd_config_check(args: argparse.Namespace) -> int:
    from hub.mappings import MappingSet
    from hub.registry import build_connectors

    settings = settings_of(args)
    connectors = build_connectors(settings)
    MappingSet(settings, connectors)
    out(f"{settings.source_file}: OK ({len(connectors)} connector(s))")
    for name, connector in connectors.items():
        out(f"  {name} ({connector.type_name}): {json.dumps(connector.capabilities)}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from hub.store.db import make_engine
    from hub.store.migrate import current_revision, upgrade

    settings = settings_of(args)
    engine = make_engine(settings.hub.database_url)
    try:
        upgrade(engine)
        out(f"store at revision {current_revision(engine)} ({engine.url.render_as_string()})")
    finally:
        engine.dispose()
    return 0


def cmd_inbox_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hub.inbox import counts_by_status
    from hub.store.models import InboxEvent

    runtime = runtime_of(args)
    with closing(runtime), runtime.read_sessions() as session:
        out(json.dumps({"counts": counts_by_status(session)}))
        query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(args.limit)
        if args.status:
            query = query.where(InboxEvent.status == args.status)
        for event in session.scalars(query):
            out(
                json.dumps(
                    {
                        "id": event.id,
                        "connector": event.connector,
                        "type": event.event_type,
                        "status": event.status,
                        "attempts": event.attempts,
                        "received_at": event.received_at.isoformat(),
                        "last_error": event.last_error,
                    }
                )
            )
    return 0


def cmd_inbox_replay(args: argparse.Namespace) -> int:
    from hub.inbox import replay
    from hub.store.db import transaction
    from hub.store.models import AuditEntry

    if not args.ids and not args.all_dead:
        raise SystemExit("give event ids, or --all-dead")
    runtime = runtime_of(args)
    with closing(runtime), transaction(runtime.sessions) as session:
        count = replay(session, args.ids or None)
        session.add(
            AuditEntry(
                actor="cli",
                action="inbox.replay",
                subject=None,
                details={"ids": args.ids, "all_dead": args.all_dead, "count": count},
            )
        )
    out(f"replayed {count} event(s)")
    return 0


def cmd_connectors_list(args: argparse.Namespace) -> int:
    """Configured connector instances with what each can do, then the registered types."""
    from hub.registry import build_connectors, connector_types

    settings = settings_of(args)
    connectors = build_connectors(settings)
    out(f"configured in {settings.source_file}:" if connectors else "no connectors configured")
    for name, connector in connectors.items():
        caps = connector.capabilities
        parts = [f"{kind}: {', '.join(items)}" for kind, items in caps.items() if items]
        schedules = settings.connector(name)
        planned = ", ".join(
            f"{stream} every {s.interval_seconds}s" if s.interval_seconds else f"{stream} {s.cron}"
            for stream, s in (schedules.streams.items() if schedules else [])
        )
        out(f"  {name} ({connector.type_name}): {'; '.join(parts) or 'no capabilities'}")
        if planned:
            out(f"    scheduled: {planned}")
    out("registered types:")
    for name, cls in sorted(connector_types().items()):
        out(f"  {name}: {cls.description}")
    return 0


def cmd_connectors_test(args: argparse.Namespace) -> int:
    """Check one connector's credentials and reachability; say what is wrong in words."""
    runtime = runtime_of(args)
    with closing(runtime):
        connector = runtime.connectors.get(args.name)
        if connector is None:
            known = ", ".join(sorted(runtime.connectors)) or "none"
            raise SystemExit(f"no connector named {args.name!r} (configured: {known})")
        try:
            result = connector.check()
        except Exception as exc:  # noqa: BLE001 - a broken check is reported, not raised
            out(f"{args.name}: FAILED: the check itself failed ({type(exc).__name__})")
            return 1
        verdict = "OK" if result.ok else "FAILED"
        out(f"{args.name} ({connector.type_name}): {verdict}: {result.detail or 'no detail'}")
        return 0 if result.ok else 1


def cmd_connectors_run(args: argparse.Namespace) -> int:
    """Run a connector's streams now, here, one run at a time cluster-wide."""
    from hub.scheduler import NoSuchJob, run_job, streams_of
    from hub.store.db import transaction
    from hub.store.models import AuditEntry
    from hub.worker import default_worker_id

    runtime = runtime_of(args)
    with closing(runtime):
        require_schema(runtime)
        try:
            names = streams_of(runtime, args.name, args.stream)
        except NoSuchJob as exc:
            raise SystemExit(str(exc)) from None
        with transaction(runtime.sessions) as session:
            session.add(
                AuditEntry(
                    actor="cli",
                    action="connector.run",
                    subject=args.name,
                    details={"streams": names},
                )
            )
        worst = 0
        for stream in names:
            status = run_job(runtime, args.name, stream, default_worker_id(), trigger="manual")
            note = " (running elsewhere; try again when it ends)" if status == "skipped" else ""
            out(f"{args.name}/{stream}: {status}{note}")
            worst = max(worst, {"succeeded": 0, "deferred": 3, "skipped": 4}.get(status, 1))
        return worst


def cmd_connectors_pause(args: argparse.Namespace) -> int:
    from hub.scheduler import NoSuchJob, set_paused

    paused = args.action == "pause"
    runtime = runtime_of(args)
    with closing(runtime):
        require_schema(runtime)
        try:
            jobs = set_paused(runtime, args.name, paused, actor="cli", stream=args.stream)
        except NoSuchJob as exc:
            raise SystemExit(str(exc)) from None
    out(f"{'paused' if paused else 'resumed'}: {', '.join(jobs)}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Run a connector's streams now (``--full``: a resumable backfill) with progress."""
    from hub.sync import run_stream

    runtime = runtime_of(args)
    with closing(runtime):
        require_schema(runtime)
        connector = runtime.connectors.get(args.connector)
        if connector is None:
            raise SystemExit(f"no connector named {args.connector!r}")
        streams = [s for s in connector.streams() if args.stream in (None, s.name)]
        if not streams:
            raise SystemExit(f"{args.connector!r} has no stream {args.stream!r}")
        # A backfill's pages keep thousands of rows alive at once, so full collections
        # come every few pages; each walked the ~120,000 startup objects (hub/heap.py).
        settle_after_startup()
        worst = 0
        for stream in streams:
            run = run_stream(runtime, connector, stream, full=args.full, progress=_progress)
            sys.stderr.write("\n")
            out(
                json.dumps(
                    {
                        "stream": stream.name,
                        "mode": run.mode,
                        "status": run.status,
                        "records": run.records_read,
                        "changed": run.records_changed,
                        "pages": run.pages,
                        "api_calls": run.api_calls,
                        "error": run.error,
                    }
                )
            )
            worst = max(worst, {"succeeded": 0, "deferred": 3}.get(run.status, 1))
    return worst


def _progress(run: Any, estimate: int | None) -> None:
    """One self-overwriting progress line on stderr."""
    elapsed = max((run.started_at and (_now() - run.started_at).total_seconds()) or 0, 1e-3)
    rate = run.records_read / elapsed
    if estimate:
        done = min(run.records_read / estimate, 1.0)
        bar = "#" * int(done * 30)
        text = f"[{bar:<30}] {run.records_read}/{estimate} ({done:.0%})"
    else:
        text = f"{run.records_read} records"
    sys.stderr.write(f"\r{run.stream}: {text}, {run.pages} pages, {rate:,.0f}/s ")
    sys.stderr.flush()


def _now() -> Any:
    from hub.store.coltypes import utcnow

    return utcnow()


def register(sub: Any, add: Add) -> None:
    config = sub.add_parser("config", help="configuration").add_subparsers(
        dest="action", required=True
    )
    add("check", cmd_config_check, "validate the configuration and mappings", config)
    db = sub.add_parser("db", help="the store").add_subparsers(dest="action", required=True)
    add("upgrade", cmd_db_upgrade, "apply migrations", db)

    inbox = sub.add_parser("inbox", help="the webhook inbox").add_subparsers(
        dest="action", required=True
    )
    listing = add("list", cmd_inbox_list, "list events", inbox)
    listing.add_argument("--status", choices=["pending", "done", "ignored", "dead"])
    listing.add_argument("--limit", type=int, default=20)
    rep = add("replay", cmd_inbox_replay, "re-queue events", inbox)
    rep.add_argument("ids", nargs="*", type=int)
    rep.add_argument("--all-dead", action="store_true")

    conns = sub.add_parser("connectors", help="connectors").add_subparsers(
        dest="action", required=True
    )
    add("list", cmd_connectors_list, "configured connectors and registered types", conns)
    test = add("test", cmd_connectors_test, "check a connector's credentials and reach", conns)
    test.add_argument("name")
    for action, func, help_ in (
        ("run", cmd_connectors_run, "run a connector's pull streams now, here"),
        ("pause", cmd_connectors_pause, "pause a connector's scheduled streams everywhere"),
        ("resume", cmd_connectors_pause, "resume a connector's scheduled streams"),
    ):
        job = add(action, func, help_, conns)
        job.add_argument("name")
        job.add_argument("--stream", help="only this stream")

    sync = add("sync", cmd_sync, "run a connector's pull streams now")
    sync.add_argument("connector")
    sync.add_argument("--stream", help="only this stream")
    sync.add_argument(
        "--full", action="store_true", help="a full backfill (resumes from its last committed page)"
    )
