"""Workers: claim inbox events in batches and run them through the pipeline.

Each batch is one transaction with a savepoint per event: an event's changes and its
``done`` mark commit together, so a worker killed at any instant leaves every event
either fully applied and marked, or untouched and still leased (and the lease runs
out). A failing event rolls back to its savepoint and is retried with backoff; after
``max_attempts`` it is dead, with its last error, until someone replays it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from hub import inbox, leases
from hub.batch_apply import BatchEvent, Prepared
from hub.batch_loop import BatchLoop
from hub.plugin import Change
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.page_statistics import WORKER_TABLES, refresh_statistics

log = logging.getLogger(__name__)

#: A claimed event, what its connector made of it (or the error), and its batch-ready
#: form (None: it is applied alone).
_Item = tuple[inbox.Claimed, Sequence[Change] | Exception, Prepared | None]


#: How many times a batch chosen as a deadlock victim is applied before the error stands.
DEADLOCK_ATTEMPTS = 3
#: How often a busy worker looks whether the tables it reads need new statistics.
STATISTICS_EVERY_SECONDS = 5.0


def is_deadlock(exc: OperationalError) -> bool:
    """PostgreSQL's "deadlock detected" (SQLSTATE 40P01)."""
    return getattr(exc.orig, "sqlstate", None) == "40P01"


class LeaseLostError(RuntimeError):
    """Another worker took over an event of the batch (our lease ran out)."""


def _store_failing(exc: DBAPIError) -> bool:
    """The database itself is failing (connection lost, server going away), as opposed
    to refusing one statement (a constraint, a value it cannot store)."""
    return bool(exc.connection_invalidated) or isinstance(exc, OperationalError | InterfaceError)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """One worker; run several (threads, processes or hosts) against one PostgreSQL."""

    def __init__(self, runtime: Runtime, worker_id: str | None = None) -> None:
        self.runtime = runtime
        self.settings = runtime.settings.hub.worker
        self.worker_id = worker_id or default_worker_id()
        self._statistics_due = 0.0

    def run_once(self) -> int:
        """Claim and process one batch; return how many events it held."""
        return self._apply_batch(self._claim())

    def batches(self) -> BatchLoop:
        """The loop :meth:`run_forever` runs: batch after batch, each claimed while
        the previous one is applied (on PostgreSQL)."""
        return BatchLoop(self)

    def _claim(self) -> list[_Item]:
        """Lease a batch and interpret and map its events (the work that needs no
        write transaction)."""
        from datetime import timedelta

        with transaction(self.runtime.sessions) as session:
            claimed = inbox.claim(
                session,
                worker_id=self.worker_id,
                limit=self.settings.batch_size,
                lease=timedelta(seconds=self.settings.lease_seconds),
            )
        # Interpreting may call vendor APIs (hydration): do it before taking the write
        # transaction, so no database lock is held across network calls.
        return [self._prepare(item) for item in claimed]

    def _prepare(self, item: inbox.Claimed) -> _Item:
        pipeline = self.runtime.pipeline
        result = self._interpret(item)
        if isinstance(result, Exception) or not pipeline.batchable(item.connector, result):
            return item, result, None
        try:
            return (
                item,
                result,
                pipeline.prepare(BatchEvent(item.connector, result, item.received_at)),
            )
        except Exception:  # noqa: BLE001 - applied alone, where its error is recorded
            return item, result, None

    def _apply_batch(self, items: list[_Item]) -> int:
        """Apply a claimed batch in one transaction. A deadlock victim is retried at
        once: two workers' batches can lock identifiers in crossing orders (a batch
        locks its contact records' identifiers, then its interactions', each call in
        ascending order), PostgreSQL then aborts one of the two transactions, and
        everything it did is rolled back, so applying the batch again is safe."""
        if not items:
            return 0
        for attempt in range(1, DEADLOCK_ATTEMPTS + 1):
            try:
                with transaction(self.runtime.sessions) as session:
                    self._apply_all(session, items)
                break
            except OperationalError as exc:
                if not is_deadlock(exc) or attempt == DEADLOCK_ATTEMPTS:
                    raise
                log.warning(
                    "worker.deadlock_retried",
                    extra={"events": len(items), "attempt": attempt, "worker": self.worker_id},
                )
        log.info("worker.batch_done", extra={"events": len(items), "worker": self.worker_id})
        self._refresh_statistics()
        return len(items)

    def _refresh_statistics(self) -> None:
        """PostgreSQL: ANALYZE the tables a batch reads by key once they have grown by
        a fifth (:func:`hub.store.page_statistics.refresh_statistics`), looked at every
        few seconds. The hub must not depend on autovacuum for its plans: where it is
        off, or lags a burst, a fresh store kept the plans of an empty one, and a 100-event
        batch's page read took 44 ms instead of a few (1 worker: 775 events/s, PostgreSQL
        at 1.0 ms of CPU per event). A failure here only costs the refresh."""
        now = time.monotonic()
        if now < self._statistics_due:
            return
        self._statistics_due = now + STATISTICS_EVERY_SECONDS
        try:
            analyzed = refresh_statistics(self.runtime.engine, tables=WORKER_TABLES)
        except DBAPIError as exc:
            log.warning("worker.statistics_failed", extra={"error": type(exc).__name__})
            return
        if analyzed:
            log.info("worker.statistics_refreshed", extra={"tables": analyzed})

    def _apply_all(self, session: Session, items: list[_Item]) -> None:
        """Consecutive prepared events go through the batch path together; the
        others (failures, deletions, merges) one by one at their place in the order."""
        run: list[_Item] = []
        for item, result, prepared in items:
            if prepared is not None:
                run.append((item, result, prepared))
                continue
            self._apply_run(session, run)
            run = []
            self._apply_one(session, item, result)
        self._apply_run(session, run)

    def _apply_run(self, session: Session, run: list[_Item]) -> None:
        """Apply a run of events in one savepoint; if anything in it fails, roll it
        back and apply its events one by one, so one bad event fails alone. A run of
        one takes the batch path too: a lone call (the usual pop) costs 14 statements
        there against 20 on the record path, half the worker time on its way to the
        agent."""
        if not run:
            return
        savepoint = session.begin_nested()
        try:
            prepared = [p for _, _, p in run if p is not None]
            outcomes = self.runtime.pipeline.apply_batch(session, prepared)
            results = [
                (i.id, o.status, o.detail) for (i, _, _), o in zip(run, outcomes, strict=True)
            ]
            if not inbox.finish_many(session, results, self.worker_id):
                raise LeaseLostError("a lease of the batch ran out")
            savepoint.commit()
            return
        except DBAPIError as exc:
            if _store_failing(exc):
                raise  # abandon the batch; the leases expire and it runs again
            savepoint.rollback()
            reason: Exception = exc
        except Exception as exc:  # noqa: BLE001 - found again, alone, below
            savepoint.rollback()
            reason = exc
        session.expire_all()
        log.info(
            "worker.batch_split",
            extra={"events": len(run), "error_class": type(reason).__name__},
        )
        for item, changes, _ in run:
            self._apply_one(session, item, changes)

    def _interpret(self, item: inbox.Claimed) -> Sequence[Change] | Exception:
        try:
            return self.runtime.pipeline.interpret(item.connector, item.event)
        except Exception as exc:  # noqa: BLE001 - recorded on the event by _apply_one
            return exc

    def _apply_one(
        self, session: Session, item: inbox.Claimed, result: Sequence[Change] | Exception
    ) -> None:
        if isinstance(result, Exception):
            self._fail_classified(session, item, result)
            return
        savepoint = session.begin_nested()
        try:
            outcome = self.runtime.pipeline.apply_for(
                session, item.connector, result, received_at=item.received_at
            )
            if not inbox.finish(session, item.id, self.worker_id, outcome.status, outcome.detail):
                savepoint.rollback()  # our lease ran out and another worker has it
                log.warning("worker.lease_lost", extra={"event_id": item.id})
                return
            savepoint.commit()
        except IntegrityError as exc:  # a concurrent worker won a race; retry shortly
            savepoint.rollback()
            self._fail(session, item, exc, delay=self._delay(item))
        except DBAPIError:
            raise  # the store itself is failing: abandon the batch, the leases expire
        except Exception as exc:  # noqa: BLE001 - one bad event must never stop the worker
            savepoint.rollback()
            self._fail_classified(session, item, exc)

    def _fail_classified(self, session: Session, item: inbox.Claimed, exc: Exception) -> None:
        """Retry or dead-letter by the error taxonomy (:func:`hub.leases.retry_plan`)."""
        delay, permanent = leases.retry_plan(
            exc,
            item.attempts,
            self.settings.backoff_base_seconds,
            self.settings.backoff_max_seconds,
        )
        self._fail(session, item, exc, delay=delay, permanent=permanent)

    def _delay(self, item: inbox.Claimed) -> float:
        return leases.backoff(
            item.attempts, self.settings.backoff_base_seconds, self.settings.backoff_max_seconds
        )

    def _fail(
        self,
        session: Session,
        item: inbox.Claimed,
        exc: Exception,
        *,
        delay: float,
        permanent: bool = False,
    ) -> None:
        status = inbox.fail(
            session,
            item.id,
            self.worker_id,
            error=f"{type(exc).__name__}: {exc}",
            attempts=item.attempts,
            max_attempts=self.settings.max_attempts,
            delay=delay,
            permanent=permanent,
        )
        log.warning(
            "worker.event_failed",
            extra={
                "event_id": item.id,
                "connector": item.connector,
                "error_class": type(exc).__name__,
                "attempts": item.attempts,
                "status": status,
            },
        )

    def run_forever(self, stop: threading.Event) -> None:
        """Process the inbox and the outbox until ``stop`` is set; back off while idle or
        while the store is down. Candidate scoring runs beside it in a thread of its
        own, so a long scoring batch never holds up the next pop."""
        from hub.delivery import DeliveryWorker

        scorer = threading.Thread(
            target=self.score_candidates_forever, args=(stop,), name="scorer", daemon=True
        )
        scorer.start()
        deliveries = DeliveryWorker(self.runtime, self.worker_id)
        idle = self.settings.poll_interval_seconds
        self.runtime.wakeup.listen(self.runtime.engine)
        with self.batches() as batches:
            while not stop.is_set():
                try:
                    if batches.run_once() + deliveries.run_once() == 0:
                        self.runtime.wakeup.wait(idle)  # intake wakes us as soon as it stores
                except DBAPIError as exc:
                    log.error("worker.store_unavailable", extra={"error_class": type(exc).__name__})
                    stop.wait(min(5.0, idle * 4))
        deliveries.close()
        scorer.join(timeout=30)

    def score_candidates_forever(self, stop: threading.Event) -> None:
        """Score the contacts that writes queued (:mod:`hub.identity.candidate_queue`)
        until ``stop`` is set; several workers share the queue safely."""
        from hub.identity.candidate_queue import score_queued

        idle = max(self.settings.poll_interval_seconds, 1.0)
        rules = self.runtime.pipeline.identity
        while not stop.is_set():
            try:
                if not score_queued(self.runtime.sessions, rules, worker_id=self.worker_id):
                    stop.wait(idle)
            except DBAPIError as exc:
                log.error("scorer.store_unavailable", extra={"error_class": type(exc).__name__})
                stop.wait(5.0)
            except Exception as exc:  # noqa: BLE001 - scoring must never stop the worker
                # The class only: messages of store errors quote parameters (personal data).
                log.error("scorer.failed", extra={"error_class": type(exc).__name__})
                stop.wait(5.0)
