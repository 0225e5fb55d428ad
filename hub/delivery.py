"""Deliver due outbox rows to their push targets (runs in every worker process)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

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

    def _target(self, name: str) -> PushTarget | None:
        return self.runtime.targets.get(name)

    def run_once(self) -> int:
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
        for item in claimed:
            self._deliver(item)
        return len(claimed)

    def _deliver(self, item: _Claimed) -> None:
        target = self._target(item.target)
        error: Exception
        try:
            if target is None:
                raise SkippableError(f"no push target {item.target!r} is configured")
            ref = target.push({**item.payload, "delivery_id": item.id}, item.key)
        except Exception as exc:  # noqa: BLE001 - a failing push never stops the worker
            error = exc
        else:
            with transaction(self.runtime.sessions) as session:
                leases.finish_row(
                    session,
                    Delivery,
                    item.id,
                    self.worker_id,
                    status="delivered",
                    external_ref=ref,
                    delivered_at=utcnow(),
                    last_error=None,
                )
            log.info("outbox.delivered", extra={"delivery_id": item.id, "target": item.target})
            return
        delay, permanent = leases.retry_plan(
            error,
            item.attempts,
            self.settings.backoff_base_seconds,
            self.settings.backoff_max_seconds,
        )
        with transaction(self.runtime.sessions) as session:
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
