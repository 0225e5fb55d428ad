"""Identity commands: ``threadline contacts explain|unmerge|merges|candidates|decide``
and ``threadline identity simulate|score``. Registered by :func:`register` from hub/cli/."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from contextlib import closing
from typing import Any

Add = Callable[..., argparse.ArgumentParser]


def _out(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _runtime(args: argparse.Namespace) -> Any:
    from hub.cli.common import require_schema
    from hub.cli.common import runtime_of as build

    runtime = build(args)
    require_schema(runtime)
    return runtime


def cmd_explain(args: argparse.Namespace) -> int:
    from hub.identity.explain import explain

    runtime = _runtime(args)
    with closing(runtime), runtime.read_sessions() as session:
        try:
            _out(explain(session, args.contact_id))
        except LookupError as exc:
            sys.stderr.write(f"{exc.args[0]}\n")
            return 1
    return 0


def cmd_unmerge(args: argparse.Namespace) -> int:
    from hub.identity.merge import unmerge
    from hub.store.db import transaction
    from hub.store.models import AuditEntry

    runtime = _runtime(args)
    with closing(runtime):
        try:
            with transaction(runtime.sessions) as session:
                result = unmerge(session, args.merge_id, actor=args.actor)
                session.add(
                    AuditEntry(
                        actor=args.actor,
                        action="contact.unmerge",
                        subject=result["restored"],
                        details=result,
                    )
                )
        except (LookupError, ValueError) as exc:
            sys.stderr.write(f"{exc.args[0]}\n")
            return 1
    _out(result)
    return 0


def cmd_merges(args: argparse.Namespace) -> int:
    from hub.identity.merge import list_merges

    runtime = _runtime(args)
    with closing(runtime), runtime.read_sessions() as session:
        _out(list_merges(session, contact_id=args.contact, limit=args.limit))
    return 0


def cmd_candidates(args: argparse.Namespace) -> int:
    from hub.identity.candidates import list_candidates

    runtime = _runtime(args)
    with closing(runtime), runtime.read_sessions() as session:
        status = None if args.status == "all" else args.status
        _out(list_candidates(session, status=status, limit=args.limit))
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from hub.identity.candidates import decide_candidate
    from hub.store.db import transaction

    runtime = _runtime(args)
    with closing(runtime):
        try:
            with transaction(runtime.sessions) as session:
                result = decide_candidate(
                    session, args.a, args.b, confirm=args.decision == "confirm", actor=args.actor
                )
        except (LookupError, ValueError) as exc:
            sys.stderr.write(f"{exc.args[0]}\n")
            return 1
    _out(result)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from hub.identity.simulate import load_rules, simulate

    proposed = load_rules(args.rules)
    runtime = _runtime(args)
    with closing(runtime):
        _out(simulate(runtime.sessions, runtime.settings.hub.identity, proposed))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from hub.identity.candidate_queue import pending, score_queued

    runtime = _runtime(args)
    with closing(runtime):
        scored = 0
        while scored < args.limit:
            batch = min(args.batch, args.limit - scored)
            taken = score_queued(
                runtime.sessions, runtime.settings.hub.identity, worker_id="cli", limit=batch
            )
            if not taken:
                break
            scored += taken
        with runtime.read_sessions() as session:
            _out({"scored": scored, "still_queued": pending(session)})
    return 0


def register(sub: Any, add: Add) -> None:
    """Add the ``contacts`` and ``identity`` command groups to ``threadline``."""
    contacts = sub.add_parser("contacts", help="unified contacts: explain, merges").add_subparsers(
        dest="action", required=True
    )
    explain = add("explain", cmd_explain, "why a contact holds each record and key", contacts)
    explain.add_argument("contact_id")
    unmerge = add("unmerge", cmd_unmerge, "undo a merge exactly", contacts)
    unmerge.add_argument("merge_id", type=int)
    unmerge.add_argument("--actor", default="cli")
    merges = add("merges", cmd_merges, "list merges, newest first", contacts)
    merges.add_argument("--contact", help="only merges this contact took part in")
    merges.add_argument("--limit", type=int, default=50)
    cands = add("candidates", cmd_candidates, "list candidate matches, best first", contacts)
    cands.add_argument(
        "--status", default="open", choices=["open", "rejected", "confirmed", "merged", "all"]
    )
    cands.add_argument("--limit", type=int, default=50)
    decide = add("decide", cmd_decide, "confirm (merge) or reject a candidate pair", contacts)
    decide.add_argument("decision", choices=["confirm", "reject"])
    decide.add_argument("a", help="contact id (merged into b on confirm)")
    decide.add_argument("b", help="contact id (kept on confirm)")
    decide.add_argument("--actor", default="cli")
    identity = sub.add_parser("identity", help="identity rules").add_subparsers(
        dest="action", required=True
    )
    sim = add("simulate", cmd_simulate, "replay stored records under proposed rules", identity)
    sim.add_argument("--rules", required=True, help="YAML: a hub.identity section")
    score = add(
        "score",
        cmd_score,
        "score queued contacts for candidates and automatic merges (workers do this too)",
        identity,
    )
    score.add_argument("--limit", type=int, default=1_000_000, help="contacts to score at most")
    score.add_argument("--batch", type=int, default=200, help="contacts per transaction")
