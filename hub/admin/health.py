"""Connector health and the overview figures, computed from the store.

Shared by the admin API, the dashboard and ``/metrics``, so the three never disagree.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.plugin import Connector
from hub.scheduler import job_states
from hub.store.coltypes import utcnow
from hub.store.models import ApiBudget, Delivery, InboxEvent, Journey, SyncRun

#: Error rate is measured over a connector's last this-many finished runs.
RECENT_RUNS = 20
#: A connector is failing when its error rate over recent runs reaches this.
FAILING_RATE = 0.5


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _seconds(delta: timedelta | None) -> float | None:
    return round(delta.total_seconds(), 3) if delta is not None else None


def budget_json(row: ApiBudget, now: datetime) -> dict[str, Any]:
    """A budget bucket; a window that has ended has its whole limit left."""
    ended = row.window_start + timedelta(seconds=row.window_seconds) <= now
    used = 0 if ended else row.used
    return {
        "bucket": row.bucket,
        "limit": row.limit,
        "used": used,
        "remaining": max(row.limit - used, 0),
        "window_seconds": row.window_seconds,
        "window_start": _iso(row.window_start),
    }


def budgets_of(session: Session, connector: Connector, now: datetime) -> list[dict[str, Any]]:
    """Budget buckets of the connector's type (buckets are named ``<type>:<account>:…``)."""
    rows = session.scalars(
        select(ApiBudget)
        .where(ApiBudget.bucket.startswith(f"{connector.type_name}:"))
        .order_by(ApiBudget.bucket)
    )
    return [budget_json(row, now) for row in rows]


def _inbox_counts(session: Session, connector: str) -> dict[str, int]:
    rows = session.execute(
        select(InboxEvent.status, func.count())
        .where(InboxEvent.connector == connector)
        .group_by(InboxEvent.status)
    ).all()
    return {status: int(n) for status, n in rows}


def connector_health(session: Session, connector: Connector) -> dict[str, Any]:
    """Status, last success, lag, error rate, budgets, inbox and job state of one connector."""
    now = utcnow()
    recent = list(
        session.scalars(
            select(SyncRun)
            .where(SyncRun.connector == connector.name, SyncRun.finished_at.is_not(None))
            .order_by(SyncRun.id.desc())
            .limit(RECENT_RUNS)
        )
    )
    failed = sum(1 for r in recent if r.status == "failed")
    error_rate = round(failed / len(recent), 3) if recent else 0.0
    last_success = session.scalar(
        select(func.max(SyncRun.finished_at)).where(
            SyncRun.connector == connector.name, SyncRun.status == "succeeded"
        )
    )
    states = job_states(session, connector.name)
    declared = [s.name for s in connector.streams()]
    inbox = _inbox_counts(session, connector.name)
    paused = bool(states) and all(s.paused for s in states if s.stream in declared)
    if recent and error_rate >= FAILING_RATE:
        status = "failing"
    elif paused:
        status = "paused"
    elif inbox.get("dead"):
        status = "degraded"
    else:
        status = "ok"
    return {
        "name": connector.name,
        "type": connector.type_name,
        "status": status,
        "capabilities": connector.capabilities,
        "paused": paused,
        "last_success_at": _iso(last_success),
        "lag_seconds": _seconds(now - last_success) if last_success else None,
        "error_rate": error_rate,
        "recent_runs": len(recent),
        "last_error": next((r.error for r in recent if r.error), None),
        "budgets": budgets_of(session, connector, now),
        "inbox": inbox,
        "jobs": [job_state_json(s) for s in states],
    }


def job_state_json(row: Any) -> dict[str, Any]:
    return {
        "job_id": row.job_id,
        "stream": row.stream,
        "paused": row.paused,
        "run_requested_at": _iso(row.run_requested_at),
        "last_started_at": _iso(row.last_started_at),
        "last_finished_at": _iso(row.last_finished_at),
        "last_status": row.last_status,
        "next_run_at": _iso(row.next_run_at),
    }


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(round(share * (len(ordered) - 1)), len(ordered) - 1)
    return round(ordered[index], 3)


def pop_latencies(session: Session, since: datetime, limit: int = 5000) -> list[float]:
    """Seconds from webhook received to pop delivered, for recent deliveries."""
    rows = session.execute(
        select(Delivery.received_at, Delivery.delivered_at)
        .where(
            Delivery.status == "delivered",
            Delivery.delivered_at >= since,
            Delivery.received_at.is_not(None),
        )
        .order_by(Delivery.id.desc())
        .limit(limit)
    ).all()
    return [max((d - r).total_seconds(), 0.0) for r, d in rows if r is not None and d is not None]


def overview(session: Session, connectors: dict[str, Connector]) -> dict[str, Any]:
    """The dashboard's first page, as data."""
    now = utcnow()
    last_hour = now - timedelta(hours=1)
    received = session.scalar(
        select(func.count()).select_from(InboxEvent).where(InboxEvent.received_at >= last_hour)
    )
    depth = dict(
        session.execute(select(InboxEvent.status, func.count()).group_by(InboxEvent.status)).all()
    )
    oldest_pending = session.scalar(
        select(func.min(InboxEvent.received_at)).where(InboxEvent.status == "pending")
    )
    latencies = pop_latencies(session, now - timedelta(hours=24))
    health = [connector_health(session, c) for c in connectors.values()]
    return {
        "generated_at": now.isoformat(),
        "intake_per_minute": round(int(received or 0) / 60, 3),
        "intake_last_hour": int(received or 0),
        "inbox_depth": {str(k): int(v) for k, v in depth.items()},
        "processing_lag_seconds": _seconds(now - oldest_pending) if oldest_pending else 0.0,
        "pop_latency_seconds": {
            "p50": _percentile(latencies, 0.5),
            "p95": _percentile(latencies, 0.95),
            "count": len(latencies),
        },
        "failing_connectors": [h["name"] for h in health if h["status"] != "ok"],
        "journeys": journey_kpis(session),
    }


def journey_kpis(session: Session, contact_id: str | None = None) -> dict[str, Any]:
    """Journey measures from the timeline's journeys.

    * channel-switch rate: journeys with at least one channel switch / journeys;
    * repeat contact within 24 h: contacts with two journeys starting less than 24 h
      apart / contacts with a journey;
    * contacts per journey: interactions per journey (how many times the customer had
      to reach out about one thing).
    """
    query = select(
        Journey.contact_id, Journey.started_at, Journey.interactions, Journey.channel_switches
    )
    if contact_id is not None:
        query = query.where(Journey.contact_id == contact_id)
    rows = session.execute(query.order_by(Journey.contact_id, Journey.started_at)).all()
    starts: dict[str, list[datetime]] = defaultdict(list)
    for row in rows:
        starts[row.contact_id].append(row.started_at)
    repeaters = sum(
        1
        for times in starts.values()
        if any(b - a < timedelta(hours=24) for a, b in itertools.pairwise(times))
    )
    journeys = len(rows)
    return {
        "journeys": journeys,
        "contacts": len(starts),
        "channel_switch_rate": round(sum(1 for r in rows if r.channel_switches) / journeys, 3)
        if journeys
        else None,
        "repeat_contact_24h_rate": round(repeaters / len(starts), 3) if starts else None,
        "contacts_per_journey": round(sum(r.interactions for r in rows) / journeys, 3)
        if journeys
        else None,
    }
