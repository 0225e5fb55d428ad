"""What a connector may use from the hub: durable state and shared API budgets.

Connectors stay free of SQL. The hub binds a :class:`StoreContext` to every connector
it builds; a connector used on its own (a unit test, a script) gets a
:class:`MemoryContext` with the same behaviour in one process.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from hub.crypto import seal, unseal
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import ApiBudget, ConnectorState

#: Share of a budget kept for live work (webhook hydration, pops) when a backfill asks.
BACKFILL_RESERVE = 0.2


@dataclass
class StateHandle:
    """A state value read under lock; ``set`` replaces it when the block commits."""

    value: dict[str, Any] | None
    _new: dict[str, Any] | None = None

    def set(self, value: dict[str, Any]) -> None:
        self._new = dict(value)
        self.value = dict(value)


def _window_start(now: datetime, seconds: float) -> datetime:
    epoch = now.timestamp()
    return datetime.fromtimestamp(math.floor(epoch / seconds) * seconds, UTC)


class ConnectorContext(ABC):
    """Services for one connector instance."""

    def __init__(self, connector: str) -> None:
        self.connector = connector
        self.api_calls = 0  # calls made by this process; sync runs record the delta
        self._leases: dict[str, tuple[datetime, int]] = {}
        self._lease_lock = threading.Lock()

    def count_api_call(self, n: int = 1) -> None:
        self.api_calls += n

    @abstractmethod
    def get_state(self, key: str) -> dict[str, Any] | None:
        """The stored value for ``key`` or None."""

    @abstractmethod
    @contextmanager
    def locked_state(self, key: str) -> Iterator[StateHandle]:
        """Read ``key`` holding a lock across processes until the block ends.

        Use it to serialise an OAuth refresh: the second worker waits, then sees the
        token the first one stored instead of refreshing again.
        """

    def set_state(self, key: str, value: dict[str, Any]) -> None:
        with self.locked_state(key) as handle:
            handle.set(value)

    @abstractmethod
    def take_budget(
        self,
        bucket: str,
        *,
        limit: int,
        window_seconds: float,
        cost: int = 1,
        priority: str = "live",
    ) -> float:
        """Spend ``cost`` calls from ``bucket`` in the current window.

        Returns 0 when the calls may go ahead (and counts them), else the seconds to
        wait for the next window. ``priority="backfill"`` leaves
        :data:`BACKFILL_RESERVE` of the limit for live work.
        """

    def take_leased(
        self,
        bucket: str,
        *,
        limit: int,
        window_seconds: float,
        priority: str = "live",
        block: int = 1,
    ) -> float:
        """:meth:`take_budget` for one call, reserving up to ``block`` calls at a time.

        A backfill makes thousands of calls; taking each from the shared store is a
        write transaction per call. Calls reserved here are spent in this process
        without one until the block or the window runs out. A block is at most a
        twentieth of the allowance, and what is left of it when the window ends goes
        unused, so sharing errs on the side of fewer calls, never more.
        """
        start = _window_start(utcnow(), window_seconds)
        with self._lease_lock:
            seen, left = self._leases.get(bucket, (start, 0))
            if seen == start and left > 0:
                self._leases[bucket] = (start, left - 1)
                return 0.0
        size = max(1, min(block, self._allowance(limit, priority) // 20))
        wait = self.take_budget(
            bucket, limit=limit, window_seconds=window_seconds, cost=size, priority=priority
        )
        if wait > 0 and size > 1:  # not a whole block left: one call may still fit
            size = 1
            wait = self.take_budget(
                bucket, limit=limit, window_seconds=window_seconds, priority=priority
            )
        if wait == 0:
            with self._lease_lock:
                self._leases[bucket] = (start, size - 1)
        return wait

    @abstractmethod
    def observe_budget(self, bucket: str, *, used: int, limit: int, window_seconds: float) -> None:
        """Record the usage the vendor reported (``Sforce-Limit-Info``, rate headers)."""

    def contact_context(
        self, object_type: str, external_id: str, *, interactions: int = 10
    ) -> dict[str, Any] | None:
        """The unified contact linked to this connector's record, with its recent
        interactions (newest first), or None when the record is unknown."""
        return None

    @staticmethod
    def _allowance(limit: int, priority: str) -> int:
        if priority == "backfill":
            return max(1, int(limit * (1 - BACKFILL_RESERVE)))
        return limit


class MemoryContext(ConnectorContext):
    """In-process state and budgets (one process only)."""

    def __init__(self, connector: str = "") -> None:
        super().__init__(connector)
        self._state: dict[str, dict[str, Any]] = {}
        self._budgets: dict[str, tuple[datetime, int, int]] = {}
        self._lock = threading.RLock()

    def get_state(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            value = self._state.get(key)
            return dict(value) if value is not None else None

    @contextmanager
    def locked_state(self, key: str) -> Iterator[StateHandle]:
        with self._lock:
            handle = StateHandle(self.get_state(key))
            yield handle
            if handle._new is not None:
                self._state[key] = handle._new

    def take_budget(
        self,
        bucket: str,
        *,
        limit: int,
        window_seconds: float,
        cost: int = 1,
        priority: str = "live",
    ) -> float:
        with self._lock:
            now = utcnow()
            start = _window_start(now, window_seconds)
            seen, used, _ = self._budgets.get(bucket, (start, 0, limit))
            if seen != start:
                used = 0
            if used + cost > self._allowance(limit, priority):
                return (start + timedelta(seconds=window_seconds) - now).total_seconds()
            self._budgets[bucket] = (start, used + cost, limit)
            return 0.0

    def observe_budget(self, bucket: str, *, used: int, limit: int, window_seconds: float) -> None:
        with self._lock:
            start = _window_start(utcnow(), window_seconds)
            seen, mine, _ = self._budgets.get(bucket, (start, 0, limit))
            self._budgets[bucket] = (start, max(used, mine if seen == start else 0), limit)


class StoreContext(ConnectorContext):
    """State and budgets in the shared store, so every process and host agrees."""

    def __init__(self, connector: str, sessions: sessionmaker[Session]) -> None:
        super().__init__(connector)
        self._sessions = sessions

    def get_state(self, key: str) -> dict[str, Any] | None:
        with self._sessions() as session:
            row = session.get(ConnectorState, (self.connector, key))
            return unseal(row.value) or None if row is not None else None

    def _lock_row(self, session: Session, model: Any, pk: Any, **defaults: Any) -> Any:
        """The row under lock, created first when missing.

        ``SELECT … FOR UPDATE`` locks nothing when the row does not exist yet, so two
        first callers would both proceed; inserting (ignoring a concurrent insert of
        the same key) and then locking makes the first use as exclusive as the rest.
        SQLite needs none of it: BEGIN IMMEDIATE already serialises writers.
        """
        row = session.get(model, pk, with_for_update=True)
        if row is None:
            insert_if_absent(session, model, defaults)
            row = session.get(model, pk, with_for_update=True, populate_existing=True)
        return row

    @contextmanager
    def locked_state(self, key: str) -> Iterator[StateHandle]:
        with transaction(self._sessions) as session:
            row = self._lock_row(
                session,
                ConnectorState,
                (self.connector, key),
                connector=self.connector,
                key=key,
                value={},
            )
            handle = StateHandle(unseal(row.value) or None)  # {} is the placeholder: absent
            yield handle
            if handle._new is not None:
                row.value = seal(handle._new)  # OAuth tokens and the like, encrypted

    def take_budget(
        self,
        bucket: str,
        *,
        limit: int,
        window_seconds: float,
        cost: int = 1,
        priority: str = "live",
    ) -> float:
        now = utcnow()
        start = _window_start(now, window_seconds)
        with transaction(self._sessions) as session:
            row = self._current_window(session, bucket, start, limit, window_seconds)
            if row.used + cost > self._allowance(limit, priority):
                return (start + timedelta(seconds=window_seconds) - now).total_seconds()
            row.used += cost
            return 0.0

    def observe_budget(self, bucket: str, *, used: int, limit: int, window_seconds: float) -> None:
        start = _window_start(utcnow(), window_seconds)
        with transaction(self._sessions) as session:
            row = self._current_window(session, bucket, start, limit, window_seconds)
            row.used = max(row.used, used)

    def _current_window(
        self, session: Session, bucket: str, start: datetime, limit: int, window_seconds: float
    ) -> ApiBudget:
        """The bucket's row under lock, reset when a new window has begun."""
        row: ApiBudget = self._lock_row(
            session,
            ApiBudget,
            bucket,
            bucket=bucket,
            window_start=start,
            window_seconds=window_seconds,
            used=0,
            limit=limit,
        )
        if row.window_start != start:
            row.window_start, row.used = start, 0
        row.limit, row.window_seconds = limit, window_seconds
        return row

    def contact_context(
        self, object_type: str, external_id: str, *, interactions: int = 10
    ) -> dict[str, Any] | None:
        from hub.api.serialize import contact_json, interaction_json
        from hub.store.models import Contact, Identifier, Interaction, SourceRecord
        from hub.store.records import find_source_record

        with self._sessions() as session:
            record = find_source_record(session, self.connector, object_type, external_id)
            if record is None:
                return None
            contact = session.get(Contact, record.contact_id)
            while contact is not None and contact.merged_into_id:
                contact = session.get(Contact, contact.merged_into_id)
            if contact is None:
                return None
            records = list(
                session.scalars(select(SourceRecord).where(SourceRecord.contact_id == contact.id))
            )
            identifiers = list(
                session.scalars(select(Identifier).where(Identifier.contact_id == contact.id))
            )
            recent = session.scalars(
                select(Interaction)
                .where(Interaction.contact_id == contact.id)
                .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
                .limit(interactions)
            )
            return {
                **contact_json(contact, records, identifiers),
                "interactions": [interaction_json(i) for i in recent],
            }

    def budget(self, bucket: str) -> ApiBudget | None:
        """The bucket as stored (for health pages)."""
        with self._sessions() as session:
            return session.scalar(select(ApiBudget).where(ApiBudget.bucket == bucket))


def insert_if_absent(session: Session, model: Any, values: dict[str, Any]) -> None:
    """INSERT … ON CONFLICT DO NOTHING on the primary key (both stores)."""
    from sqlalchemy.dialects import postgresql, sqlite

    builder: Any = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else (sqlite.insert)
    )
    session.execute(builder(model).values(**values).on_conflict_do_nothing())
