"""Scheduled pull streams on APScheduler 3, with their state shared in the store.

Jobs are derived from the configuration at start-up, each with a stable id
(``sync:<connector>:<stream>``), in an in-memory job store: APScheduler's FAQ warns
never to share one job store between schedulers, so each process builds its own.
What the processes share lives in the store instead (``job_states``): whether a job
is paused, a pending "run now" request, and the last and next run. The cluster-wide
lock in ``hub/locks.py`` keeps one run of a job at a time.

Policy (documented in the README under "Operating Threadline"):

* ``coalesce=True``: a backlog of missed runs (the process was down or busy) becomes
  one run; ``misfire_grace_time`` of one interval (60 s for cron): a run more than
  that late is dropped and the next one waits for its time.
* ``max_instances=1`` per process, and the job lock across processes: a run that
  finds the job running elsewhere is skipped, not queued.
* A scheduled run that finds the job started less than half an interval ago
  (another scheduler's run of the same tick) is skipped too, so N schedulers run a
  job once per tick, not N times.
* Paused jobs still fire and are skipped, so a pause set in one place holds on every
  host at once. "Run now" (admin API, dashboard) is a request in the store; a
  scheduler takes it within ``hub.scheduler.poll_seconds``, paused or not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from hub.context import insert_if_absent
from hub.locks import job_lock
from hub.retention import Pruned, prune
from hub.runtime import Runtime
from hub.settings import Schedule
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import AuditEntry, JobState
from hub.sync import run_stream
from hub.worker import default_worker_id

log = logging.getLogger(__name__)
#: How long a crashed SQLite holder blocks its job (PostgreSQL frees it at once).
LOCK_LEASE = timedelta(hours=1)


class NoSuchJob(LookupError):
    """An unknown connector, or one without that pull stream; the message says which."""


RETENTION_JOB = "threadline:retention"


def job_id(connector: str, stream: str) -> str:
    return f"sync:{connector}:{stream}"


def _trigger(schedule: Schedule) -> tuple[BaseTrigger, int]:
    if schedule.cron:
        return CronTrigger.from_crontab(schedule.cron, timezone="UTC"), 60
    seconds = int(schedule.interval_seconds or 60)
    return IntervalTrigger(seconds=seconds, timezone="UTC"), seconds


def streams_of(runtime: Runtime, connector: str, stream: str | None = None) -> list[str]:
    """The declared stream names of ``connector`` (or just ``stream``); NoSuchJob if none."""
    found = runtime.connectors.get(connector)
    if found is None:
        raise NoSuchJob(f"no connector named {connector!r}")
    names = [s.name for s in found.streams() if stream in (None, s.name)]
    if not names:
        what = f"no stream {stream!r}" if stream else "no pull streams"
        raise NoSuchJob(f"connector {connector!r} has {what}")
    return names


def _state(session: Session, connector: str, stream: str) -> JobState:
    """The job's state row under a row lock (created when missing)."""
    key = job_id(connector, stream)
    row = session.get(JobState, key, with_for_update=True)
    if row is None:  # two processes may create it at once: insert, ignoring the other
        values = {"job_id": key, "connector": connector, "stream": stream, "paused": False}
        insert_if_absent(session, JobState, {**values, "updated_at": utcnow()})
        row = session.get(JobState, key, with_for_update=True, populate_existing=True)
    assert row is not None
    return row


def set_paused(
    runtime: Runtime, connector: str, paused: bool, *, actor: str, stream: str | None = None
) -> list[str]:
    """Pause or resume a connector's pull streams everywhere; audited. The job ids."""
    names = streams_of(runtime, connector, stream)
    with transaction(runtime.sessions) as session:
        for name in names:
            _state(session, connector, name).paused = paused
        session.add(
            AuditEntry(
                actor=actor,
                action="connector.pause" if paused else "connector.resume",
                subject=connector,
                details={"streams": names},
            )
        )
    return [job_id(connector, n) for n in names]


def request_run(
    runtime: Runtime, connector: str, *, actor: str, stream: str | None = None
) -> list[str]:
    """Ask the schedulers to run a connector's streams now; audited. The job ids."""
    names = streams_of(runtime, connector, stream)
    now = utcnow()
    with transaction(runtime.sessions) as session:
        for name in names:
            row = _state(session, connector, name)
            row.run_requested_at, row.requested_by = now, actor
        session.add(
            AuditEntry(
                actor=actor, action="connector.run", subject=connector, details={"streams": names}
            )
        )
    return [job_id(connector, n) for n in names]


def job_states(session: Session, connector: str | None = None) -> list[JobState]:
    query = select(JobState).order_by(JobState.job_id)
    if connector is not None:
        query = query.where(JobState.connector == connector)
    return list(session.scalars(query))


def _may_start(
    runtime: Runtime, connector: str, stream: str, trigger: str, min_gap: timedelta | None
) -> str | None:
    """Claim the start of a run (under the job lock): None to go, else why not."""
    now = utcnow()
    with transaction(runtime.sessions) as session:
        state = _state(session, connector, stream)
        if trigger == "requested":
            result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(JobState)
                .where(JobState.job_id == state.job_id, JobState.run_requested_at.is_not(None))
                .values(run_requested_at=None)
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:
                return "no_request"
        elif trigger == "scheduled":
            if state.paused:
                return "paused"
            last = state.last_started_at
            if min_gap is not None and last is not None and now - last < min_gap:
                return "ran_recently"
        session.execute(
            update(JobState)
            .where(JobState.job_id == state.job_id)
            .values(last_started_at=now, last_status="running")
            .execution_options(synchronize_session=False)
        )
    return None


def run_job(
    runtime: Runtime,
    connector_name: str,
    stream_name: str,
    holder: str,
    *,
    trigger: str = "scheduled",
    min_gap: timedelta | None = None,
) -> str:
    """Run one stream now unless it is running elsewhere (or, when ``trigger`` is
    ``scheduled``, paused or just run by another scheduler). Returns the run's status,
    ``skipped`` or ``paused``."""
    connector = runtime.connectors[connector_name]
    stream = next(s for s in connector.streams() if s.name == stream_name)
    name = job_id(connector_name, stream_name)
    context = {"job": name, "trigger": trigger}
    with job_lock(runtime, name, holder, LOCK_LEASE) as got:
        if not got:
            log.info("scheduler.job_skipped", extra={**context, "reason": "running_elsewhere"})
            return "skipped"
        why_not = _may_start(runtime, connector_name, stream_name, trigger, min_gap)
        if why_not is not None:
            log.info("scheduler.job_skipped", extra={**context, "reason": why_not})
            return "paused" if why_not == "paused" else "skipped"
        log.info("scheduler.job_started", extra=context)
        run = run_stream(runtime, connector, stream)
        with transaction(runtime.sessions) as session:
            session.execute(
                update(JobState)
                .where(JobState.job_id == name)
                .values(last_finished_at=utcnow(), last_status=run.status)
                .execution_options(synchronize_session=False)
            )
        log.info("scheduler.job_finished", extra={**context, "status": run.status})
        return run.status


def poll(runtime: Runtime, scheduler: BackgroundScheduler | None, holder: str) -> list[str]:
    """Record next run times, then run the jobs someone asked to run now."""
    if scheduler is not None:
        _record_next_runs(runtime, scheduler.get_jobs())
    with runtime.read_sessions() as session:
        wanted = [
            (row.connector, row.stream)
            for row in session.scalars(
                select(JobState).where(JobState.run_requested_at.is_not(None))
            )
        ]
    results = []
    for connector, stream in wanted:
        known = runtime.connectors.get(connector)
        if known is None or stream not in {s.name for s in known.streams()}:
            continue  # configured on another host's scheduler, or removed
        results.append(run_job(runtime, connector, stream, holder, trigger="requested"))
    return results


def _record_next_runs(runtime: Runtime, jobs: Sequence[Any]) -> None:
    times: dict[str, datetime | None] = {
        job.id: job.next_run_time for job in jobs if job.id.startswith("sync:")
    }
    if not times:
        return
    with transaction(runtime.sessions) as session:
        for key, at in times.items():
            _, connector, stream = key.split(":", 2)
            _state(session, connector, stream).next_run_at = at


def run_retention(runtime: Runtime, holder: str) -> Pruned | None:
    """Prune what is past its retention (:mod:`hub.retention`), in one scheduler at a
    time; None when another holds the job."""
    with job_lock(runtime, RETENTION_JOB, holder, LOCK_LEASE) as got:
        if not got:
            return None
        return prune(runtime.sessions, runtime.settings.hub.retention)


def build_scheduler(runtime: Runtime, *, with_poller: bool = False) -> BackgroundScheduler:
    """A scheduler with one job per enabled configured stream (not started), and, with
    ``with_poller``, the job that records next runs and takes "run now" requests."""
    scheduler = BackgroundScheduler(timezone="UTC")
    holder = default_worker_id()
    options = runtime.settings.hub.scheduler
    first = {"next_run_time": utcnow()} if options.run_on_start else {}
    for instance in runtime.settings.connectors:
        for stream_name, schedule in instance.streams.items():
            if not schedule.enabled:
                continue
            trigger, grace = _trigger(schedule)
            scheduler.add_job(
                run_job,
                trigger,
                args=(runtime, instance.name, stream_name, holder),
                kwargs={"min_gap": timedelta(seconds=grace / 2)},
                id=job_id(instance.name, stream_name),
                coalesce=True,
                max_instances=1,
                misfire_grace_time=grace,
                replace_existing=True,
                **first,
            )
    retention = runtime.settings.hub.retention
    scheduler.add_job(
        run_retention,
        IntervalTrigger(minutes=retention.interval_minutes, timezone="UTC"),
        args=(runtime, holder),
        id=RETENTION_JOB,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=60,
        replace_existing=True,
    )
    if not with_poller:
        return scheduler
    scheduler.add_job(
        poll,
        IntervalTrigger(seconds=options.poll_seconds, timezone="UTC"),
        args=(runtime, scheduler, holder),
        id="threadline:poll",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(int(options.poll_seconds), 1),
        replace_existing=True,
        next_run_time=utcnow(),
    )
    return scheduler
