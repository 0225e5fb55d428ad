"""``threadline``: run the hub's processes and administer it from a shell."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from typing import Any

from hub.errors import ConfigError
from hub.heap import settle_after_startup
from hub.settings import Settings, load_settings


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def _runtime(args: argparse.Namespace) -> Any:
    from hub.logging_setup import configure_logging
    from hub.runtime import Runtime

    settings = _settings(args)
    configure_logging(settings.logging.level, settings.logging.format)
    return Runtime.build(settings)


def _require_schema(runtime: Any) -> None:
    from hub.store.migrate import current_revision, head_revision

    if current_revision(runtime.engine) != head_revision():
        raise SystemExit("the store's schema is not up to date: run `threadline db upgrade`")


def _stop_event() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


# ----- commands ------------------------------------------------------------------


def cmd_config_check(args: argparse.Namespace) -> int:
    from hub.mappings import MappingSet
    from hub.registry import build_connectors

    settings = _settings(args)
    connectors = build_connectors(settings)
    MappingSet(settings, connectors)
    _out(f"{settings.source_file}: OK ({len(connectors)} connector(s))")
    for name, connector in connectors.items():
        _out(f"  {name} ({connector.type_name}): {json.dumps(connector.capabilities)}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from hub.store.db import make_engine
    from hub.store.migrate import current_revision, upgrade

    settings = _settings(args)
    engine = make_engine(settings.hub.database_url)
    try:
        upgrade(engine)
        _out(f"store at revision {current_revision(engine)} ({engine.url.render_as_string()})")
    finally:
        engine.dispose()
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from hub.worker import Worker

    runtime = _runtime(args)
    _require_schema(runtime)
    worker = Worker(runtime)
    settle_after_startup()
    with closing(runtime):
        if args.once:
            _out(f"processed {worker.run_once()} event(s)")
        else:
            worker.run_forever(_stop_event())
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from hub.scheduler import build_scheduler

    runtime = _runtime(args)
    _require_schema(runtime)
    scheduler = build_scheduler(runtime, with_poller=True)
    settle_after_startup()  # its sync jobs write pages of thousands of rows
    scheduler.start()
    _stop_event().wait()
    scheduler.shutdown(wait=True)
    runtime.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Web + worker + scheduler in one process: the embedded default."""
    from werkzeug.serving import make_server

    from hub.app import create_app
    from hub.scheduler import build_scheduler
    from hub.worker import Worker

    runtime = _runtime(args)
    _require_schema(runtime)
    stop = _stop_event()
    worker_thread = threading.Thread(
        target=Worker(runtime).run_forever, args=(stop,), name="worker", daemon=True
    )
    worker_thread.start()
    scheduler = build_scheduler(runtime, with_poller=True)
    if runtime.settings.hub.scheduler_enabled:
        scheduler.start()
    server = make_server(args.host, args.port, create_app(runtime=runtime), threaded=True)
    settle_after_startup()
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    _out(
        f"threadline serving on http://{args.host}:{server.server_port} "
        f"(store: {runtime.engine.url.render_as_string()})"
    )
    stop.wait()
    server.shutdown()
    if scheduler.running:
        scheduler.shutdown(wait=False)
    worker_thread.join(timeout=10)
    runtime.close()
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The hub with the built-in sandboxes and the demo story (what `make demo` runs)."""
    from hub.demo import run_demo

    return run_demo(args.config, args.host, args.port, check=args.check)


def cmd_web(args: argparse.Namespace) -> int:
    """The web role alone, under gunicorn, for running several web processes."""
    from gunicorn.app.base import BaseApplication

    from hub.app import create_app

    config_path = args.config

    class _App(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("threads", args.threads)
            self.cfg.set("timeout", 30)

        def load(self) -> Any:
            from hub.logging_setup import configure_logging

            settings = load_settings(config_path)
            configure_logging(settings.logging.level, settings.logging.format)
            app = create_app(settings)
            settle_after_startup()
            return app

    _App().run()
    return 0


def cmd_inbox_list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from hub.inbox import counts_by_status
    from hub.store.models import InboxEvent

    runtime = _runtime(args)
    with closing(runtime), runtime.read_sessions() as session:
        _out(json.dumps({"counts": counts_by_status(session)}))
        query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(args.limit)
        if args.status:
            query = query.where(InboxEvent.status == args.status)
        for event in session.scalars(query):
            _out(
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
    runtime = _runtime(args)
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
    _out(f"replayed {count} event(s)")
    return 0


def cmd_connectors_list(args: argparse.Namespace) -> int:
    """Configured connector instances with what each can do, then the registered types."""
    from hub.registry import build_connectors, connector_types

    settings = _settings(args)
    connectors = build_connectors(settings)
    _out(f"configured in {settings.source_file}:" if connectors else "no connectors configured")
    for name, connector in connectors.items():
        caps = connector.capabilities
        parts = [f"{kind}: {', '.join(items)}" for kind, items in caps.items() if items]
        schedules = settings.connector(name)
        planned = ", ".join(
            f"{stream} every {s.interval_seconds}s" if s.interval_seconds else f"{stream} {s.cron}"
            for stream, s in (schedules.streams.items() if schedules else [])
        )
        _out(f"  {name} ({connector.type_name}): {'; '.join(parts) or 'no capabilities'}")
        if planned:
            _out(f"    scheduled: {planned}")
    _out("registered types:")
    for name, cls in sorted(connector_types().items()):
        _out(f"  {name}: {cls.description}")
    return 0


def cmd_connectors_test(args: argparse.Namespace) -> int:
    """Check one connector's credentials and reachability; say what is wrong in words."""
    runtime = _runtime(args)
    with closing(runtime):
        connector = runtime.connectors.get(args.name)
        if connector is None:
            known = ", ".join(sorted(runtime.connectors)) or "none"
            raise SystemExit(f"no connector named {args.name!r} (configured: {known})")
        try:
            result = connector.check()
        except Exception as exc:  # noqa: BLE001 - a broken check is reported, not raised
            _out(f"{args.name}: FAILED: the check itself failed ({type(exc).__name__})")
            return 1
        verdict = "OK" if result.ok else "FAILED"
        _out(f"{args.name} ({connector.type_name}): {verdict}: {result.detail or 'no detail'}")
        return 0 if result.ok else 1


def cmd_connectors_run(args: argparse.Namespace) -> int:
    """Run a connector's streams now, here, one run at a time cluster-wide."""
    from hub.scheduler import NoSuchJob, run_job, streams_of
    from hub.store.db import transaction
    from hub.store.models import AuditEntry
    from hub.worker import default_worker_id

    runtime = _runtime(args)
    with closing(runtime):
        _require_schema(runtime)
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
            _out(f"{args.name}/{stream}: {status}{note}")
            worst = max(worst, {"succeeded": 0, "deferred": 3, "skipped": 4}.get(status, 1))
        return worst


def cmd_connectors_pause(args: argparse.Namespace) -> int:
    from hub.scheduler import NoSuchJob, set_paused

    paused = args.action == "pause"
    runtime = _runtime(args)
    with closing(runtime):
        _require_schema(runtime)
        try:
            jobs = set_paused(runtime, args.name, paused, actor="cli", stream=args.stream)
        except NoSuchJob as exc:
            raise SystemExit(str(exc)) from None
    _out(f"{'paused' if paused else 'resumed'}: {', '.join(jobs)}")
    return 0


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from hub.store.db import transaction
    from hub.tokens import create_token

    runtime = _runtime(args)
    with closing(runtime):
        _require_schema(runtime)
        with transaction(runtime.sessions) as session:
            row, token = create_token(
                session, role=args.role, name=args.name or args.role, actor="cli"
            )
            token_id = row.id
    _out(f"created token {token_id} ({args.role}); it is shown only now:")
    _out(token)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from hub.tokens import list_tokens

    runtime = _runtime(args)
    with closing(runtime), runtime.read_sessions() as session:
        for row in list_tokens(session):
            state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
            used = row.last_used_at.isoformat() if row.last_used_at else "never"
            _out(f"{row.id}\t{row.role}\t{row.name}\t{row.prefix}…\t{state}\tlast used {used}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from hub.store.db import transaction
    from hub.tokens import revoke_token

    runtime = _runtime(args)
    with closing(runtime), transaction(runtime.sessions) as session:
        row = revoke_token(session, args.id, actor="cli")
        if row is None:
            raise SystemExit(f"no token {args.id}")
    _out(f"revoked token {args.id}")
    return 0


def cmd_sync(args: argparse.Namespace) -> int:
    """Run a connector's streams now (``--full``: a resumable backfill) with progress."""
    from hub.sync import run_stream

    runtime = _runtime(args)
    with closing(runtime):
        _require_schema(runtime)
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
            _out(
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


def cmd_agent_link(args: argparse.Namespace) -> int:
    """Print the agent-panel URL for one agent (signed with pops.panel_secret)."""
    from hub.panel.links import agent_link

    secret = _settings(args).pops.panel_secret
    if not secret:
        raise SystemExit("set pops.panel_secret (THREADLINE_PANEL_SECRET) to use the panel")
    _out(agent_link(args.base_url, secret, args.agent))
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    """Run one vendor sandbox in the foreground (the real clients can talk to it)."""
    from werkzeug.serving import make_server

    from hub.sandboxes import sandbox_type

    sandbox = sandbox_type(args.name)(seed=args.seed)
    server = make_server(args.host, args.port, sandbox.app, threaded=True)
    _out(f"{args.name} sandbox on http://{args.host}:{server.server_port} (seed {args.seed})")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _stop_event().wait()
    server.shutdown()
    return 0


def cmd_webhook_send(args: argparse.Namespace) -> int:
    """Sign a JSON event with a standard_webhooks connector's secret and post it."""
    from hub.devtools import send_standard_webhook

    secret = args.secret
    if secret is None:
        instance = _settings(args).connector(args.connector)
        if instance is None or instance.type != "standard_webhooks":
            raise SystemExit(f"no standard_webhooks connector named {args.connector!r}")
        secret = str(instance.settings["secret"])
    status, body = send_standard_webhook(secret, args.connector, args.url, args.json)
    _out(f"HTTP {status} {body}")
    return 0 if 200 <= status < 300 else 1


# ----- parser --------------------------------------------------------------------


def cmd_secrets_rotate(args: argparse.Namespace) -> int:
    """Re-encrypt stored connector state with the first key of THREADLINE_SECRET_KEYS."""
    from sqlalchemy import select

    from hub.crypto import rotate
    from hub.store.db import transaction
    from hub.store.models import AuditEntry, ConnectorState

    runtime = _runtime(args)
    with closing(runtime), transaction(runtime.sessions) as session:
        rows = session.scalars(select(ConnectorState).with_for_update()).all()
        for row in rows:
            row.value = rotate(row.value)
        session.add(
            AuditEntry(
                actor="cli", action="secrets.rotated", subject=None, details={"values": len(rows)}
            )
        )
    _out(f"re-encrypted {len(rows)} stored value(s) with the primary key")
    return 0


def cmd_retention_prune(args: argparse.Namespace) -> int:
    """Delete what is past its retention now (the scheduler does it hourly)."""
    from dataclasses import asdict

    from hub.retention import prune

    runtime = _runtime(args)
    with closing(runtime):
        pruned = prune(runtime.sessions, runtime.settings.hub.retention)
    _out(json.dumps(asdict(pruned), indent=2))
    return 0


def cmd_contacts_forget(args: argparse.Namespace) -> int:
    """Erase a person from the store, the inbox and the outbox; list where they remain."""
    from hub.privacy import forget_contact
    from hub.store.db import transaction

    runtime = _runtime(args)
    with closing(runtime), transaction(runtime.sessions) as session:
        report = forget_contact(session, args.contact_id, actor="cli")
    if report is None:
        raise SystemExit(f"no contact {args.contact_id!r}")
    _out(
        json.dumps(
            {
                "contacts": report.contacts,
                "deleted": report.deleted,
                "still_in_connected_systems": report.still_in_sources,
            },
            indent=2,
        )
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="threadline", description=__doc__)
    parser.add_argument(
        "--config",
        help="configuration file (default: $THREADLINE_CONFIG or config/threadline.yaml)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str, parent: Any = sub
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_)
        p.set_defaults(func=func)
        return p

    serve = add("serve", cmd_serve, "web + worker + scheduler in one process")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    demo = add("demo", cmd_demo, "migrate, print what to try, and serve (make demo)")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument(
        "--check",
        action="store_true",
        help="play the story unattended; exit 0 only if every pop arrived",
    )
    web = add("web", cmd_web, "the web role under gunicorn")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8080)
    web.add_argument("--workers", type=int, default=2)
    web.add_argument(
        "--threads",
        type=int,
        default=8,
        help="threads per worker (gthread); intake threads mostly wait on a shared commit, "
        "so more threads mean larger group commits (default 8)",
    )
    worker = add("worker", cmd_worker, "process the inbox")
    worker.add_argument("--once", action="store_true", help="one batch, then exit")
    add("scheduler", cmd_scheduler, "run scheduled pull streams")

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

    toks = sub.add_parser("tokens", help="API tokens").add_subparsers(dest="action", required=True)
    create = add("create", cmd_tokens_create, "create a token (printed once)", toks)
    create.add_argument("--role", choices=["viewer", "operator", "admin"], required=True)
    create.add_argument("--name", default="", help="who or what uses it")
    add("list", cmd_tokens_list, "list tokens (never the tokens themselves)", toks)
    revoke = add("revoke", cmd_tokens_revoke, "revoke a token", toks)
    revoke.add_argument("id", type=int)

    secrets = sub.add_parser("secrets", help="encryption at rest").add_subparsers(
        dest="action", required=True
    )
    add("rotate", cmd_secrets_rotate, "re-encrypt stored secrets with the primary key", secrets)
    privacy = sub.add_parser("privacy", help="erasure requests").add_subparsers(
        dest="action", required=True
    )
    forget = add(
        "forget", cmd_contacts_forget, "erase a contact everywhere the hub keeps them", privacy
    )
    forget.add_argument("contact_id")
    retention = sub.add_parser("retention", help="hub.retention").add_subparsers(
        dest="action", required=True
    )
    add("prune", cmd_retention_prune, "delete what is past its retention now", retention)

    sync = add("sync", cmd_sync, "run a connector's pull streams now")
    sync.add_argument("connector")
    sync.add_argument("--stream", help="only this stream")
    sync.add_argument(
        "--full", action="store_true", help="a full backfill (resumes from its last committed page)"
    )

    agent = sub.add_parser("agent", help="the agent panel").add_subparsers(
        dest="action", required=True
    )
    link = add("link", cmd_agent_link, "print an agent's signed panel URL", agent)
    link.add_argument("agent")
    link.add_argument("--base-url", default="http://127.0.0.1:8080")

    box = add("sandbox", cmd_sandbox, "run a vendor sandbox (salesforce, hubspot)")
    box.add_argument("name")
    box.add_argument("--host", default="127.0.0.1")
    box.add_argument("--port", type=int, default=0)
    box.add_argument("--seed", type=int, default=1)

    hook = sub.add_parser("webhook", help="developer tools").add_subparsers(
        dest="action", required=True
    )
    send = add("send", cmd_webhook_send, "sign and post a Standard Webhooks event", hook)
    send.add_argument("connector", help="a configured standard_webhooks connector")
    send.add_argument("json", help="the event body as JSON text")
    send.add_argument("--url", default="http://127.0.0.1:8080")
    send.add_argument("--secret", help="the whsec_ secret (default: from the config)")
    __import__("hub.identity.cli", fromlist=["register"]).register(sub, add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
