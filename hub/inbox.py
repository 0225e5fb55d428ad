"""The durable inbox: store verified events, claim them with leases, finish or retry.

Claiming is one UPDATE … RETURNING over rows chosen with ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so any number of workers on any number of hosts take disjoint batches. On
SQLite the whole claim runs under the database's single write lock. A claim sets a
lease; a worker that dies simply lets its leases run out and another takes over, and
``attempts`` counts claims so a poison event that kills workers still ends up dead.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

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
    inserted = _insert_ignoring_duplicates(session, rows)
    if inserted == 0:
        session.delete(delivery)
        session.flush()
    return inserted, len(events) - inserted


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(InboxEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["connector", "idempotency_key"])
        .returning(InboxEvent.id)
    )
    return len(session.execute(stmt).all())


def _claimable(now: datetime) -> Any:
    return and_(
        InboxEvent.status == "pending",
        InboxEvent.next_attempt_at <= now,
        or_(InboxEvent.lease_until.is_(None), InboxEvent.lease_until < now),
    )


def claim(session: Session, *, worker_id: str, limit: int, lease: timedelta) -> list[Claimed]:
    """Lease up to ``limit`` due events, oldest first, for ``worker_id``."""
    now = utcnow()
    pick: Select[Any] = (
        select(InboxEvent.id).where(_claimable(now)).order_by(InboxEvent.id).limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(InboxEvent)
        .where(InboxEvent.id.in_(pick.scalar_subquery()))
        .values(
            lease_until=now + lease,
            locked_by=worker_id,
            attempts=InboxEvent.attempts + 1,
        )
        .returning(
            InboxEvent.id,
            InboxEvent.connector,
            InboxEvent.idempotency_key,
            InboxEvent.event_type,
            InboxEvent.payload,
            InboxEvent.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(stmt).all()
    claimed = [
        Claimed(
            id=row.id,
            connector=row.connector,
            event=InboundEvent(row.idempotency_key, row.event_type, row.payload),
            attempts=row.attempts,
        )
        for row in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


def finish(session: Session, event_id: int, worker_id: str, status: str, detail: str = "") -> bool:
    """Mark an event done/ignored if this worker still holds its lease (fencing)."""
    result = session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == event_id, InboxEvent.locked_by == worker_id)
        .values(
            status=status,
            processed_at=utcnow(),
            lease_until=None,
            last_error=detail or None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def backoff(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with full jitter (AWS architecture blog's recommendation)."""
    ceiling = min(cap, base * (2 ** max(attempts - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


def fail(
    session: Session,
    event_id: int,
    worker_id: str,
    *,
    error: str,
    attempts: int,
    max_attempts: int,
    delay: float,
    permanent: bool = False,
) -> str:
    """Schedule a retry after ``delay`` seconds, or dead-letter the event."""
    dead = permanent or attempts >= max_attempts
    status = "dead" if dead else "pending"
    session.execute(
        update(InboxEvent)
        .where(InboxEvent.id == event_id, InboxEvent.locked_by == worker_id)
        .values(
            status=status,
            last_error=error[:2000],
            lease_until=None,
            next_attempt_at=utcnow() + timedelta(seconds=delay),
            processed_at=utcnow() if dead else None,
        )
        .execution_options(synchronize_session=False)
    )
    return status


def replay(session: Session, ids: Sequence[int] | None = None, *, status: str = "dead") -> int:
    """Put events back in the queue with a fresh attempt budget.

    With ``ids`` those events (in any state but pending); without, every event in
    ``status``. Replaying a processed event is safe: processing is idempotent.
    """
    stmt = update(InboxEvent).values(
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        lease_until=None,
        locked_by=None,
        processed_at=None,
    )
    if ids is not None:
        stmt = stmt.where(InboxEvent.id.in_(list(ids)), InboxEvent.status != "pending")
    else:
        stmt = stmt.where(InboxEvent.status == status)
    return int(session.execute(stmt.execution_options(synchronize_session=False)).rowcount)


def counts_by_status(session: Session) -> dict[str, int]:
    from sqlalchemy import func

    rows = session.execute(
        select(InboxEvent.status, func.count()).group_by(InboxEvent.status)
    ).all()
    return {status: int(n) for status, n in rows}
