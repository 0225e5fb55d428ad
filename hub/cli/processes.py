"""The hub's long-running roles: ``serve`` (all in one), ``web``, ``worker``,
``scheduler``, and ``demo``."""

from __future__ import annotations

import argparse
import threading
from contextlib import closing
from typing import Any

from hub.cli.common import Add, out, require_schema, runtime_of, stop_event
from hub.heap import settle_after_startup
from hub.settings import load_settings


def cmd_serve(args: argparse.Namespace) -> int:
    """Web + worker + scheduler in one process: the embedded default."""
    from werkzeug.serving import make_server

    from hub.app import create_app
    from hub.scheduler import build_scheduler
    from hub.worker import Worker

    runtime = runtime_of(args)
    require_schema(runtime)
    stop = stop_event()
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
    out(
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


def cmd_worker(args: argparse.Namespace) -> int:
    from hub.worker import Worker

    runtime = runtime_of(args)
    require_schema(runtime)
    worker = Worker(runtime)
    settle_after_startup()
    with closing(runtime):
        if args.once:
            out(f"processed {worker.run_once()} event(s)")
        else:
            worker.run_forever(stop_event())
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from hub.scheduler import build_scheduler

    runtime = runtime_of(args)
    require_schema(runtime)
    scheduler = build_scheduler(runtime, with_poller=True)
    settle_after_startup()  # its sync jobs write pages of thousands of rows
    scheduler.start()
    stop_event().wait()
    scheduler.shutdown(wait=True)
    runtime.close()
    return 0


def register(add: Add) -> None:
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
