"""``threadline``: the command line. Each module here holds one group of commands and
registers them on the parser built below."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from hub.cli import access, devtools, operations, processes
from hub.cli.common import Command
from hub.errors import ConfigError
from hub.identity import cli as identity_cli

DESCRIPTION = "Run the hub's processes and administer it from a shell."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="threadline", description=DESCRIPTION)
    parser.add_argument(
        "--config",
        help="configuration file (default: $THREADLINE_CONFIG or config/threadline.yaml)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Command, help_: str, parent: Any = sub) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_)
        p.set_defaults(func=func)
        return p

    processes.register(add)
    operations.register(sub, add)
    access.register(sub, add)
    devtools.register(sub, add)
    identity_cli.register(sub, add)
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
