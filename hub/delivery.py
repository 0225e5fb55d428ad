"""Deliver due outbox rows to their push targets (runs in every worker process)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from hub import leases
from hub.errors import SkippableError
from hub.plugin import PushTarget
from hub.runtime import Runtime
from hub.settings import WorkerSettings
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import Delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Delivered:
    ref: str | None
    at: datetime


_Outcome = _Delivered | Exception


@dataclass(frozen=True)
class _Claimed:
    id: int
    target: str
    key: str
    payload: dict[str, Any]
    attempts: int


class DeliveryWorker:
    """Delivers due outbox rows; runs beside the inbox worker in every worker process."""

    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.runtime = runtime
        self.worker_id = worker_id
        self.settings: WorkerSettings = runtime.settings.hub.worker
        self._pool: ThreadPoolExecutor | None = None

    def _target(self, name: str) -> PushTarget | None:
        return self.runtime.targets.get(name)

    def run_once(self) -> int:
        """Claim due rows, push them, then record every outcome in one transaction.

        Each target is pushed in its own lane (a thread per target when the claim holds
        several), so a pop reaches the agent's panel without waiting for a CRM's API
        call, and a target never sees two pushes of this worker at once. Outcomes are
        written after all pushes: a crash in between redelivers, which the targets'
        idempotency keys make harmless (as a crash between a push and its record always
        did)."""
        with transaction(self.runtime.sessions) as session:
            rows = leases.claim_rows(
                session,
                Delivery,
                worker_id=self.worker_id,
                limit=self.settings.batch_size,
                lease=timedelta(seconds=self.settings.lease_seconds),
                returning=(Delivery.target, Delivery.idempotency_key, Delivery.payload),
            )
        claimed = [_Claimed(r.id, r.target, r.idempotency_key, r.payload, r.attempts) for r in rows]
        if not claimed:
            return 0
        lanes: dict[str, list[_Claimed]] = {}
        for item in claimed:
            lanes.setdefault(item.target, []).append(item)
        if len(lanes) == 1:
            outcomes = self._push_lane(claimed)
        else:
            outcomes = [
                outcome
                for lane in self._lanes().map(self._push_lane, lanes.values())
                for outcome in lane
            ]
        with transaction(self.runtime.sessions) as session:
            for item, result in outcomes:
                self._record(session, item, result)
        return len(claimed)

    def _lanes(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="push")
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _push_lane(self, items: list[_Claimed]) -> list[tuple[_Claimed, _Outcome]]:
        return [(item, self._push(item)) for item in items]

    def _push(self, item: _Claimed) -> _Outcome:
        """The target's reference on success, the error otherwise (never raises)."""
        target = self._target(item.target)
        try:
            if target is None:
                raise SkippableError(f"no push target {item.target!r} is configured")
            ref = target.push({**item.payload, "delivery_id": item.id}, item.key)
        except Exception as exc:  # noqa: BLE001 - a failing push never stops the worker
            return exc
        return _Delivered(ref, utcnow())

    def _record(self, session: Session, item: _Claimed, result: _Outcome) -> None:
        if isinstance(result, _Delivered):
            leases.finish_row(
                session,
                Delivery,
                item.id,
                self.worker_id,
                status="delivered",
                external_ref=result.ref,
                delivered_at=result.at,
                last_error=None,
            )
            log.info("outbox.delivered", extra={"delivery_id": item.id, "target": item.target})
            return
        error = result
        delay, permanent = leases.retry_plan(
            error,
            item.attempts,
            self.settings.backoff_base_seconds,
            self.settings.backoff_max_seconds,
        )
        status = leases.retry_or_bury(
            session,
            Delivery,
            item.id,
            self.worker_id,
            error=f"{type(error).__name__}: {error}",
            attempts=item.attempts,
            max_attempts=self.settings.max_attempts,
            delay=delay,
            permanent=permanent,
        )
        log.warning(
            "outbox.delivery_failed",
            extra={
                "delivery_id": item.id,
                "target": item.target,
                "status": status,
                "error_class": type(error).__name__,
                "attempts": item.attempts,
            },
        )
