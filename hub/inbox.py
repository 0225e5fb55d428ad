"""The durable inbox: store verified events, then work them off as a leased queue
(``hub/leases.py``): a worker that dies lets its leases run out and another takes over.
Intake's batched writes are ``hub/inbox_writes.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from hub import leases
from hub.inbox_writes import Incoming, store_batch
from hub.plugin import InboundEvent
from hub.store.coltypes import utcnow
from hub.store.models import InboxEvent
from webhooks import RawRequest


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
    """:func:`store_batch` for one request, in ``session``'s transaction.

    Returns ``(stored, duplicates)``. When every event is a duplicate nothing at all
    is written, not even the raw request.
    """
    return store_batch(session.connection(), [Incoming(connector, endpoint, raw, events)])[0]


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


def release(session: Session, ids: Sequence[int], worker_id: str) -> int:
    """Give back leases ``worker_id`` holds and did not use: the events are due again
    at once, and the claim no longer counts as an attempt. Returns how many."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(InboxEvent)
        .where(
            InboxEvent.id.in_(list(ids)),
            InboxEvent.locked_by == worker_id,
            InboxEvent.status == "pending",
        )
        .values(lease_until=None, locked_by=None, attempts=InboxEvent.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)


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
