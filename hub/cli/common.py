"""What every ``threadline`` command shares: settings, the runtime, output, signals."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from hub.settings import Settings, load_settings

Command = Callable[[argparse.Namespace], int]
# add(name, func, help, parent) -> the subcommand's parser; parent defaults to the top level.
Add = Callable[..., argparse.ArgumentParser]


def out(text: str) -> None:
    sys.stdout.write(text + "\n")


def settings_of(args: argparse.Namespace) -> Settings:
    return load_settings(args.config)


def runtime_of(args: argparse.Namespace) -> Any:
    """The runtime with logging configured as the settings say (imported late: building
    it loads the store and every connector, which `--help` should not pay for)."""
    from hub.logging_setup import configure_logging
    from hub.runtime import Runtime

    settings = settings_of(args)
    configure_logging(settings.logging.level, settings.logging.format)
    return Runtime.build(settings)


def require_schema(runtime: Any) -> None:
    from hub.store.migrate import current_revision, head_revision

    if current_revision(runtime.engine) != head_revision():
        raise SystemExit("the store's schema is not up to date: run `threadline db upgrade`")


def stop_event() -> threading.Event:
    """Set on SIGINT or SIGTERM, so long-running roles stop cleanly between batches."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop
