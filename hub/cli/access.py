"""Access and personal data: API tokens, secrets at rest, retention and erasure."""

from __future__ import annotations

import argparse
import json
from contextlib import closing
from typing import Any

from hub.cli.common import Add, out, require_schema, runtime_of


def cmd_tokens_create(args: argparse.Namespace) -> int:
    from hub.store.db import transaction
    from hub.tokens import create_token

    runtime = runtime_of(args)
    with closing(runtime):
        require_schema(runtime)
        with transaction(runtime.sessions) as session:
            row, token = create_token(
                session, role=args.role, name=args.name or args.role, actor="cli"
            )
            token_id = row.id
    out(f"created token {token_id} ({args.role}); it is shown only now:")
    out(token)
    return 0


def cmd_tokens_list(args: argparse.Namespace) -> int:
    from hub.tokens import list_tokens

    runtime = runtime_of(args)
    with closing(runtime), runtime.read_sessions() as session:
        for row in list_tokens(session):
            state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
            used = row.last_used_at.isoformat() if row.last_used_at else "never"
            out(f"{row.id}\t{row.role}\t{row.name}\t{row.prefix}…\t{state}\tlast used {used}")
    return 0


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    from hub.store.db import transaction
    from hub.tokens import revoke_token

    runtime = runtime_of(args)
    with closing(runtime), transaction(runtime.sessions) as session:
        row = revoke_token(session, args.id, actor="cli")
        if row is None:
            raise SystemExit(f"no token {args.id}")
    out(f"revoked token {args.id}")
    return 0


def cmd_secrets_rotate(args: argparse.Namespace) -> int:
    """Re-encrypt stored connector state with the first key of THREADLINE_SECRET_KEYS."""
    from sqlalchemy import select

    from hub.crypto import rotate
    from hub.store.db import transaction
    from hub.store.models import AuditEntry, ConnectorState

    runtime = runtime_of(args)
    with closing(runtime), transaction(runtime.sessions) as session:
        rows = session.scalars(select(ConnectorState).with_for_update()).all()
        for row in rows:
            row.value = rotate(row.value)
        session.add(
            AuditEntry(
                actor="cli", action="secrets.rotated", subject=None, details={"values": len(rows)}
            )
        )
    out(f"re-encrypted {len(rows)} stored value(s) with the primary key")
    return 0


def cmd_retention_prune(args: argparse.Namespace) -> int:
    """Delete what is past its retention now (the scheduler does it hourly)."""
    from dataclasses import asdict

    from hub.retention import prune

    runtime = runtime_of(args)
    with closing(runtime):
        pruned = prune(runtime.sessions, runtime.settings.hub.retention)
    out(json.dumps(asdict(pruned), indent=2))
    return 0


def cmd_contacts_forget(args: argparse.Namespace) -> int:
    """Erase a person from the store, the inbox and the outbox; list where they remain."""
    from hub.privacy import forget_contact
    from hub.store.db import transaction

    runtime = runtime_of(args)
    with closing(runtime), transaction(runtime.sessions) as session:
        report = forget_contact(session, args.contact_id, actor="cli")
    if report is None:
        raise SystemExit(f"no contact {args.contact_id!r}")
    out(
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


def register(sub: Any, add: Add) -> None:
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
