"""Scheduled pull streams on APScheduler 3.

Jobs are derived from the configuration at start-up, each with a stable id
(``sync:<connector>:<stream>``), in an in-memory job store: APScheduler's FAQ warns
never to share one job store between schedulers, so each process builds its own and
the cluster-wide lock in ``hub/locks.py`` keeps one run of a job at a time.
Policy: ``coalesce=True`` (a backlog of missed runs becomes one run),
``max_instances=1`` per process, ``misfire_grace_time`` of one interval.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from hub.locks import job_lock
from hub.runtime import Runtime
from hub.settings import Schedule
from hub.sync import run_stream
from hub.worker import default_worker_id

log = logging.getLogger(__name__)


def _trigger(schedule: Schedule) -> tuple[BaseTrigger, int]:
    if schedule.cron:
        return CronTrigger.from_crontab(schedule.cron, timezone="UTC"), 60
    seconds = int(schedule.interval_seconds or 60)
    return IntervalTrigger(seconds=seconds, timezone="UTC"), seconds


def run_job(runtime: Runtime, connector_name: str, stream_name: str, holder: str) -> str:
    """Run one stream now unless another process is already running it."""
    connector = runtime.connectors[connector_name]
    stream = next(s for s in connector.streams() if s.name == stream_name)
    name = f"sync:{connector_name}:{stream_name}"
    with job_lock(runtime, name, holder, timedelta(hours=1)) as got:
        if not got:
            log.info("scheduler.skipped_running_elsewhere", extra={"job": name})
            return "skipped"
        return run_stream(runtime, connector, stream).status


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """A scheduler with one job per enabled configured stream (not started)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    holder = default_worker_id()
    for instance in runtime.settings.connectors:
        for stream_name, schedule in instance.streams.items():
            if not schedule.enabled:
                continue
            trigger, grace = _trigger(schedule)
            scheduler.add_job(
                run_job,
                trigger,
                args=(runtime, instance.name, stream_name, holder),
                id=f"sync:{instance.name}:{stream_name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=grace,
                replace_existing=True,
            )
    return scheduler
