"""The outbox: pushes into agents' tools, retried until they land or die.

A push is enqueued in the same transaction as whatever caused it, keyed by
(target, idempotency key) so the same pop is queued once. Delivery calls the
connector's push target outside any database transaction (vendor calls can be slow),
then records the result fenced on the lease. A crash after the vendor accepted a push
but before the result was recorded means the push runs again with the same
idempotency key: targets must make that harmless (they do: see each connector's
``targets.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session

from hub import leases
from hub.store.coltypes import utcnow
from hub.store.models import Delivery
from hub.store.rowsets import insert_rows

log = logging.getLogger(__name__)


def target_name(connector: str, target: str) -> str:
    """How a push target is addressed in the outbox: ``<connector>:<target>``."""
    return f"{connector}:{target}"


def enqueue(
    session: Session,
    *,
    target: str,
    idempotency_key: str,
    payload: Mapping[str, Any],
    contact_id: str | None = None,
    received_at: datetime | None = None,
) -> bool:
    """Queue one push; False when the same (target, key) is already queued or done."""
    row = push_row(target, idempotency_key, payload, contact_id, received_at)
    return bool(enqueue_many(session, [row]))


def push_row(
    target: str,
    idempotency_key: str,
    payload: Mapping[str, Any],
    contact_id: str | None = None,
    received_at: datetime | None = None,
) -> dict[str, Any]:
    """One outbox row, for :func:`enqueue_many`."""
    now = utcnow()
    return {
        "target": target,
        "idempotency_key": idempotency_key,
        "payload": dict(payload),
        "contact_id": contact_id,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "received_at": received_at,
    }


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Queue many pushes in one statement; those already queued or done are skipped.
    Returns how many were new."""
    table = Delivery.__table__
    assert isinstance(table, Table)
    unique = ("target", "idempotency_key")
    return len(insert_rows(session, table, rows, skip_conflicts_on=unique))


def replay(session: Session, ids: Sequence[int] | None = None) -> int:
    """Re-queue dead deliveries (or the given ones) with a fresh attempt budget."""
    return leases.requeue(session, Delivery, ids, "dead")
