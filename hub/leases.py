"""A leased work queue over a table: claim due rows, finish them, or retry them.

The inbox and the outbox are both such queues. Rows carry ``status``,
``next_attempt_at``, ``lease_until``, ``locked_by`` and ``attempts``. Claiming is one
UPDATE … RETURNING over rows picked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
any number of workers on any number of hosts take disjoint batches; on SQLite the
claim runs under the single write lock. Every claim counts as an attempt, so a row
that kills its workers still ends up dead. Finishing is fenced on ``locked_by``: a
worker whose lease ran out cannot overwrite the new holder's result.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, Row, Select, Update, and_, literal_column, or_, select, update
from sqlalchemy.orm import Session

from hub.store.coltypes import utcnow
from hub.store.rowsets import among


def claim_rows(
    session: Session,
    model: Any,
    *,
    worker_id: str,
    limit: int,
    lease: timedelta,
    returning: Sequence[Any],
) -> list[Row[Any]]:
    """Lease up to ``limit`` due rows of ``model``, oldest first."""
    stmt = claim_statement(
        model,
        worker_id=worker_id,
        limit=limit,
        lease=lease,
        returning=returning,
        skip_locked=session.get_bind().dialect.name == "postgresql",
    )
    return sorted(session.execute(stmt).all(), key=lambda row: row.id)


def claim_statement(
    model: Any,
    *,
    worker_id: str,
    limit: int,
    lease: timedelta,
    returning: Sequence[Any],
    skip_locked: bool,
) -> Update:
    """The claim's UPDATE … RETURNING. ``status = 'pending'`` is written as a literal, not
    a parameter: only then can PostgreSQL's generic plan (blind to parameter values)
    tell the pick stays inside the queue's partial index of pending ids
    (hub.store.models.pending_ids_index), rather than walk every done row still kept."""
    now = utcnow()
    due = and_(
        model.status == literal_column("'pending'"),
        model.next_attempt_at <= now,
        or_(model.lease_until.is_(None), model.lease_until < now),
    )
    pick: Select[Any] = select(model.id).where(due).order_by(model.id).limit(limit)
    if skip_locked:
        pick = pick.with_for_update(skip_locked=True)
    return (
        update(model)
        .where(model.id.in_(pick.scalar_subquery()))
        .values(lease_until=now + lease, locked_by=worker_id, attempts=model.attempts + 1)
        .returning(model.id, model.attempts, *returning)
        .execution_options(synchronize_session=False)
    )


def finish_row(session: Session, model: Any, row_id: int, worker_id: str, **values: Any) -> bool:
    """Record a result if ``worker_id`` still holds the lease; False when it lost it."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(model)
        .where(model.id == row_id, model.locked_by == worker_id)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def finish_rows(
    session: Session, model: Any, row_ids: Sequence[int], worker_id: str, **values: Any
) -> bool:
    """:func:`finish_row` for many rows at once; False (nothing changed is kept by the
    caller's rollback) when the worker lost the lease of any of them."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(model)
        .where(among(session, model.id, row_ids), model.locked_by == worker_id)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == len(set(row_ids))


def backoff(attempts: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter: between half and all of ``base * 2**(n-1)``."""
    ceiling = min(cap, base * (2 ** max(attempts - 1, 0)))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security


def retry_plan(exc: Exception, attempts: int, base: float, cap: float) -> tuple[float, bool]:
    """``(delay, permanent)`` for a failed attempt, by the error taxonomy.

    Skippable: dead now. Fatal (auth, permissions): the longest backoff, since only a
    person can fix it. Retriable: the vendor's ``retry_after`` when it gave one.
    Anything else: exponential backoff with jitter.
    """
    from hub.errors import FatalConnectorError, RetriableError, SkippableError

    if isinstance(exc, SkippableError):
        return 0.0, True
    if isinstance(exc, FatalConnectorError):
        return cap, False
    if isinstance(exc, RetriableError) and exc.retry_after is not None:
        return exc.retry_after, False
    return backoff(attempts, base, cap), False


def retry_or_bury(
    session: Session,
    model: Any,
    row_id: int,
    worker_id: str,
    *,
    error: str,
    attempts: int,
    max_attempts: int,
    delay: float,
    permanent: bool = False,
    dead_extra: dict[str, Any] | None = None,
) -> str:
    """Schedule another attempt after ``delay`` seconds, or mark the row dead."""
    dead = permanent or attempts >= max_attempts
    values: dict[str, Any] = {
        "status": "dead" if dead else "pending",
        "last_error": error[:2000],
        "next_attempt_at": utcnow() + timedelta(seconds=delay),
    }
    if dead and dead_extra:
        values.update(dead_extra)
    finish_row(session, model, row_id, worker_id, **values)
    return str(values["status"])


def requeue(session: Session, model: Any, ids: Sequence[int] | None, status: str) -> int:
    """Put rows back in the queue with a fresh attempt budget (an admin's replay)."""
    stmt = update(model).values(
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        lease_until=None,
        locked_by=None,
    )
    if ids is not None:
        stmt = stmt.where(model.id.in_(list(ids)), model.status != "pending")
    else:
        stmt = stmt.where(model.status == status)
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        stmt.execution_options(synchronize_session=False)
    )
    return int(result.rowcount)
