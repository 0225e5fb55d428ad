"""The durable inbox: store verified events, then work them off as a leased queue
(``hub/leases.py``): a worker that dies lets its leases run out and another takes over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import leases
from hub.plugin import InboundEvent
from hub.store.coltypes import utcnow
from hub.store.models import InboxEvent, RawDelivery
from webhooks import RawRequest

#: Headers never kept with a stored request: credentials of the sender.
_DROP_HEADERS = {"authorization", "cookie", "proxy-authorization"}


@dataclass(frozen=True)
class Claimed:
    """An event a worker holds a lease on."""

    id: int
    connector: str
    event: InboundEvent
    attempts: int
    received_at: datetime | None = None


def body_hash_key(raw: RawRequest) -> str:
    """The idempotency key for senders that give none: a hash of the exact body."""
    return "sha256:" + hashlib.sha256(raw.body).hexdigest()


def store_events(
    session: Session,
    *,
    connector: str,
    endpoint: str,
    raw: RawRequest,
    events: Sequence[InboundEvent],
) -> tuple[int, int]:
    """Insert the raw request and its new events; duplicates (same key) are skipped.

    Returns ``(stored, duplicates)``. When every event is a duplicate nothing at all
    is written, not even the raw request.
    """
    if not events:
        return 0, 0
    delivery = RawDelivery(
        connector=connector,
        endpoint=endpoint,
        method=raw.method,
        url=raw.url,
        headers={k: v for k, v in raw.headers.items() if k not in _DROP_HEADERS},
        body=raw.body,
        received_at=raw.received_at,
    )
    session.add(delivery)
    session.flush()
    unique = {e.key: e for e in events}  # the same key twice in one batch counts once
    rows = [
        {
            "delivery_id": delivery.id,
            "connector": connector,
            "endpoint": endpoint,
            "idempotency_key": key,
            "event_type": event.event_type,
            "payload": event.payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": raw.received_at,
            "received_at": raw.received_at,
        }
        for key, event in unique.items()
    ]
    inserted = len(
        leases.insert_ignoring_duplicates(
            session, InboxEvent, rows, ("connector", "idempotency_key")
        )
    )
    if inserted == 0:
        session.delete(delivery)
        session.flush()
    return inserted, len(events) - inserted


def claim(session: Session, *, worker_id: str, limit: int, lease: timedelta) -> list[Claimed]:
    """Lease up to ``limit`` due events, oldest first, for ``worker_id``."""
    rows = leases.claim_rows(
        session,
        InboxEvent,
        worker_id=worker_id,
        limit=limit,
        lease=lease,
        returning=(
            InboxEvent.connector,
            InboxEvent.idempotency_key,
            InboxEvent.event_type,
            InboxEvent.payload,
            InboxEvent.received_at,
        ),
    )
    return [
        Claimed(
            id=row.id,
            connector=row.connector,
            attempts=row.attempts,
            received_at=row.received_at,
            event=InboundEvent(row.idempotency_key, row.event_type, row.payload),
        )
        for row in rows
    ]


def finish(session: Session, event_id: int, worker_id: str, status: str, detail: str = "") -> bool:
    """Mark an event done/ignored if this worker still holds its lease (fencing)."""
    return leases.finish_row(
        session,
        InboxEvent,
        event_id,
        worker_id,
        status=status,
        processed_at=utcnow(),
        last_error=detail or None,
    )


def finish_many(session: Session, results: Sequence[tuple[int, str, str]], worker_id: str) -> bool:
    """Mark many events at once, ``(event id, status, detail)`` each; False when this
    worker no longer holds every lease (the caller rolls the whole batch back)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for event_id, status, detail in results:
        groups.setdefault((status, detail), []).append(event_id)
    now = utcnow()
    return all(
        leases.finish_rows(
            session,
            InboxEvent,
            ids,
            worker_id,
            status=status,
            processed_at=now,
            last_error=detail or None,
        )
        for (status, detail), ids in groups.items()
    )


def fail(session: Session, event_id: int, worker_id: str, **kwargs: Any) -> str:
    """Retry later with backoff, or dead-letter (see :func:`hub.leases.retry_or_bury`)."""
    return leases.retry_or_bury(
        session, InboxEvent, event_id, worker_id, dead_extra={"processed_at": utcnow()}, **kwargs
    )


def replay(session: Session, ids: Sequence[int] | None = None, *, status: str = "dead") -> int:
    """Re-queue events: ``ids`` (in any state but pending), or every event in ``status``.

    Replaying a processed event is safe: processing is idempotent.
    """
    count = leases.requeue(session, InboxEvent, ids, status)
    return count


def counts_by_status(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(
        select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
    ).all()
    return {status: int(n) for status, n in rows}
