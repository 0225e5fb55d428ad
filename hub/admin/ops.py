"""Lists and actions behind the admin API and the dashboard.

Lists page newest first by id: ``limit`` rows before ``cursor`` (the last id of the
previous page). Every action writes an audit entry in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, distinct, func, select
from sqlalchemy.orm import Session

from hub import inbox, outbox
from hub.store.models import (
    AuditEntry,
    Contact,
    Delivery,
    Identifier,
    InboxEvent,
    Interaction,
    SyncRun,
)
from hub.wakeup import notify_in_transaction

MAX_LIMIT = 200
INBOX_STATUSES = ("pending", "done", "ignored", "dead")
DELIVERY_STATUSES = ("pending", "delivered", "dead")
RUN_STATUSES = ("running", "succeeded", "deferred", "failed")
#: Identifier kinds a person holds (record keys are never shared by two contacts).
PERSON_KINDS = ("phone", "email")


class BadQuery(ValueError):
    """A list query that cannot be answered; the message says why."""


@dataclass(frozen=True)
class PageArgs:
    limit: int = 50
    cursor: int | None = None

    @classmethod
    def parse(cls, args: Any) -> PageArgs:
        try:
            limit = min(max(int(args.get("limit", 50)), 1), MAX_LIMIT)
            raw = args.get("cursor")
            cursor = int(raw) if raw not in (None, "") else None
        except (TypeError, ValueError):
            raise BadQuery("limit and cursor must be whole numbers") from None
        return cls(limit, cursor)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _page(
    session: Session, query: Select[Any], model: Any, page: PageArgs
) -> tuple[list[Any], str | None]:
    if page.cursor is not None:
        query = query.where(model.id < page.cursor)
    rows = list(session.scalars(query.order_by(model.id.desc()).limit(page.limit + 1)))
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return rows, (str(rows[-1].id) if more and rows else None)


def _choice(value: str | None, allowed: Sequence[str], name: str) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        raise BadQuery(f"{name} must be one of {', '.join(allowed)}")
    return value


# ----- lists ----------------------------------------------------------------------


def sync_run_json(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "connector": run.connector,
        "stream": run.stream,
        "mode": run.mode,
        "status": run.status,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "records_read": run.records_read,
        "records_changed": run.records_changed,
        "pages": run.pages,
        "api_calls": run.api_calls,
        "cursor_before": run.cursor_before,
        "cursor_after": run.cursor_after,
        "error": run.error,
    }


def list_sync_runs(session: Session, args: Any) -> dict[str, Any]:
    page = PageArgs.parse(args)
    query = select(SyncRun)
    if args.get("connector"):
        query = query.where(SyncRun.connector == args["connector"])
    if args.get("stream"):
        query = query.where(SyncRun.stream == args["stream"])
    status = _choice(args.get("status"), RUN_STATUSES, "status")
    if status:
        query = query.where(SyncRun.status == status)
    rows, cursor = _page(session, query, SyncRun, page)
    return {"results": [sync_run_json(r) for r in rows], "next_cursor": cursor}


def inbox_event_json(event: InboxEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "connector": event.connector,
        "endpoint": event.endpoint,
        "event_type": event.event_type,
        "status": event.status,
        "attempts": event.attempts,
        "received_at": _iso(event.received_at),
        "processed_at": _iso(event.processed_at),
        "next_attempt_at": _iso(event.next_attempt_at),
        "last_error": event.last_error,
    }


def list_inbox(session: Session, args: Any) -> dict[str, Any]:
    page = PageArgs.parse(args)
    query = select(InboxEvent)
    status = _choice(args.get("status"), INBOX_STATUSES, "status")
    if status:
        query = query.where(InboxEvent.status == status)
    if args.get("connector"):
        query = query.where(InboxEvent.connector == args["connector"])
    rows, cursor = _page(session, query, InboxEvent, page)
    return {
        "counts": inbox.counts_by_status(session),
        "results": [inbox_event_json(r) for r in rows],
        "next_cursor": cursor,
    }


def delivery_json(row: Delivery) -> dict[str, Any]:
    latency = (
        round((row.delivered_at - row.received_at).total_seconds(), 3)
        if row.delivered_at and row.received_at
        else None
    )
    return {
        "id": row.id,
        "target": row.target,
        "contact_id": row.contact_id,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": _iso(row.created_at),
        "received_at": _iso(row.received_at),
        "delivered_at": _iso(row.delivered_at),
        "latency_seconds": latency,
        "external_ref": row.external_ref,
        "last_error": row.last_error,
    }


def list_deliveries(session: Session, args: Any) -> dict[str, Any]:
    page = PageArgs.parse(args)
    query = select(Delivery)
    status = _choice(args.get("status"), DELIVERY_STATUSES, "status")
    if status:
        query = query.where(Delivery.status == status)
    if args.get("target"):
        query = query.where(Delivery.target == args["target"])
    rows, cursor = _page(session, query, Delivery, page)
    counts = dict(
        session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
    )
    return {
        "counts": {str(k): int(v) for k, v in counts.items()},
        "results": [delivery_json(r) for r in rows],
        "next_cursor": cursor,
    }


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": _iso(entry.at),
        "actor": entry.actor,
        "action": entry.action,
        "subject": entry.subject,
        "details": entry.details,
    }


def list_audit(session: Session, args: Any, *, action: str | None = None) -> dict[str, Any]:
    page = PageArgs.parse(args)
    query = select(AuditEntry)
    action = action or args.get("action")
    if action:
        query = query.where(AuditEntry.action == action)
    if args.get("subject"):
        query = query.where(AuditEntry.subject == args["subject"])
    if args.get("actor"):
        query = query.where(AuditEntry.actor == args["actor"])
    rows, cursor = _page(session, query, AuditEntry, page)
    return {"results": [audit_json(r) for r in rows], "next_cursor": cursor}


def candidate_matches(session: Session, args: Any) -> dict[str, Any]:
    """Phone numbers and e-mail addresses held by more than one live contact: the
    lookups that answer ``ambiguous`` and the pops that ask the agent to choose."""
    limit = PageArgs.parse(args).limit
    live = select(Contact.id).where(Contact.merged_into_id.is_(None))
    holders = func.count(distinct(Identifier.contact_id))
    shared = session.execute(
        select(Identifier.kind, Identifier.value, holders)
        .where(Identifier.kind.in_(PERSON_KINDS), Identifier.contact_id.in_(live))
        .group_by(Identifier.kind, Identifier.value)
        .having(holders > 1)
        .order_by(holders.desc(), Identifier.kind, Identifier.value)
        .limit(limit)
    ).all()
    results = []
    for kind, value, count in shared:
        contacts = session.execute(
            select(Contact.id, Contact.display_name)
            .join(Identifier, Identifier.contact_id == Contact.id)
            .where(
                Identifier.kind == kind,
                Identifier.value == value,
                Contact.merged_into_id.is_(None),
            )
            .order_by(Contact.id)
        ).all()
        results.append(
            {
                "kind": kind,
                "value": value,
                "holders": int(count),
                "contacts": [{"id": c.id, "display_name": c.display_name} for c in contacts],
            }
        )
    return {"results": results}


# ----- actions --------------------------------------------------------------------


def replay_inbox(session: Session, *, actor: str, ids: list[int] | None, status: str | None) -> int:
    """Re-queue inbox events: ``ids``, or every event in ``status`` (dead by default)."""
    count = inbox.replay(session, ids, status=status or "dead")
    notify_in_transaction(session)  # workers on other hosts wake at commit
    session.add(
        AuditEntry(
            actor=actor,
            action="inbox.replay",
            subject=None,
            details={"ids": ids, "status": None if ids else status or "dead", "count": count},
        )
    )
    return count


def replay_deliveries(session: Session, *, actor: str, ids: list[int] | None) -> int:
    """Re-queue deliveries: ``ids``, or every dead one."""
    count = outbox.replay(session, ids)
    session.add(
        AuditEntry(
            actor=actor,
            action="delivery.replay",
            subject=None,
            details={"ids": ids, "count": count},
        )
    )
    return count


def unmerge_available() -> bool:
    """Whether the identity engine offers ``hub.identity.unmerge`` in this build."""
    import hub.identity

    return callable(getattr(hub.identity, "unmerge", None))


def unmerge(session: Session, audit_id: int, *, actor: str) -> Any:
    """Undo the merge recorded in audit entry ``audit_id`` (the identity engine's logic).

    The audit entry names the reversible merge (``details.merge_id``); the entry's own
    id is never passed on, so it cannot be mistaken for another merge's id. Raises
    LookupError (no such merge entry) or ValueError (nothing to undo it with).
    """
    import hub.identity

    entry = session.get(AuditEntry, audit_id)
    if entry is None or entry.action != "contact.merge":
        raise LookupError(f"no merge recorded in audit entry {audit_id}")
    merge_id = (entry.details or {}).get("merge_id")
    if not isinstance(merge_id, int):
        raise ValueError(
            f"audit entry {audit_id} records a merge made before merges were reversible; "
            "there is nothing to undo it with"
        )
    result = hub.identity.unmerge(session, merge_id, actor=actor)
    session.add(
        AuditEntry(
            actor=actor,
            action="contact.unmerge",
            subject=entry.subject,
            details={"merge_audit_id": audit_id, "merge_id": merge_id},
        )
    )
    return result


# ----- contact lookup (dashboard) ---------------------------------------------------


def contact_story(session: Session, contact: Contact, limit: int = 100) -> dict[str, Any]:
    """A contact's cross-channel timeline and every audit entry about it (the merge
    explanation: which rule merged what into it, and when)."""
    merged_ids = [
        contact.id,
        *session.scalars(select(Contact.id).where(Contact.merged_into_id == contact.id)),
    ]
    timeline = list(
        session.scalars(
            select(Interaction)
            .where(Interaction.contact_id == contact.id)
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
            .limit(limit)
        )
    )
    audit = list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.subject.in_(merged_ids))
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )
    return {"merged_from": merged_ids[1:], "timeline": timeline, "audit": audit}
