"""``/metrics`` in Prometheus text format, computed from the store at scrape time.

Intake, processing and pops happen in many processes (web, workers) on many hosts;
counters kept in memory would need a multi-process directory and still differ per
host. Everything here is read from the store by one custom collector instead, so
any web process answers the same numbers. Counters (``*_total``, histogram buckets)
are counts of rows that only ever grow, so they behave as counters should.
The queries are aggregates over indexed columns; scrape every 15-60 s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import ColumnElement, case, func, literal_column, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from hub.admin.health import budget_json
from hub.api.auth import principal_from_bearer, refuse_unless
from hub.runtime import Runtime
from hub.store.coltypes import utcnow
from hub.store.models import ApiBudget, AuditEntry, Delivery, InboxEvent, SyncRun

log = logging.getLogger(__name__)
#: Histogram buckets (seconds) for processing and pop latency.
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

bp = Blueprint("metrics", __name__)


def _seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * literal_column("86400.0")


class StoreCollector(Collector):
    """Every Threadline metric, read from the store when Prometheus scrapes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("threadline_store_up", "1 when the store answered this scrape")
        try:
            with self.runtime.read_sessions() as session:
                families = [
                    *self._intake(session),
                    *self._latency(session),
                    *self._sync(session),
                    *self._budgets(session),
                    self._merges(session),
                ]
        except DBAPIError as exc:
            log.warning("metrics.store_unavailable", extra={"error_class": type(exc).__name__})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _intake(self, session: Session) -> list[Metric]:
        received = CounterMetricFamily(
            "threadline_intake_events", "Verified events stored by intake", labels=["connector"]
        )
        depth = GaugeMetricFamily(
            "threadline_inbox_events", "Inbox events by state", labels=["connector", "status"]
        )
        totals: dict[str, int] = {}
        rows = session.execute(
            select(InboxEvent.connector, InboxEvent.status, func.count()).group_by(
                InboxEvent.connector, InboxEvent.status
            )
        ).all()
        for connector, status, n in rows:
            depth.add_metric([connector, status], int(n))
            totals[connector] = totals.get(connector, 0) + int(n)
        for connector, n in sorted(totals.items()):
            received.add_metric([connector], n)
        age = GaugeMetricFamily(
            "threadline_inbox_oldest_age_seconds",
            "Age of the oldest inbox event in each state that still needs work",
            labels=["status"],
        )
        now = utcnow()
        for status in ("pending", "dead"):
            oldest = session.scalar(
                select(func.min(InboxEvent.received_at)).where(InboxEvent.status == status)
            )
            age.add_metric([status], (now - oldest).total_seconds() if oldest else 0.0)
        return [received, depth, age]

    def _histogram(
        self,
        session: Session,
        name: str,
        doc: str,
        seconds: ColumnElement[Any],
        where: Any,
        group: Any | None = None,
        label: str | None = None,
    ) -> HistogramMetricFamily:
        columns = [func.count(), func.coalesce(func.sum(seconds), 0.0)]
        columns += [func.sum(case((seconds <= b, 1), else_=0)) for b in BUCKETS]
        query = select(*([group] if group is not None else []), *columns).where(where)
        if group is not None:
            query = query.group_by(group)
        family = HistogramMetricFamily(name, doc, labels=[label] if label else None)
        for row in session.execute(query).all():
            values = list(row)
            labels = [str(values.pop(0))] if group is not None else []
            total, total_seconds, *counts = values
            if not total:
                continue
            buckets = [(str(b), float(c or 0)) for b, c in zip(BUCKETS, counts, strict=True)]
            family.add_metric(
                labels, [*buckets, ("+Inf", float(total))], sum_value=float(total_seconds or 0)
            )
        return family

    def _latency(self, session: Session) -> list[Metric]:
        processing = self._histogram(
            session,
            "threadline_processing_latency_seconds",
            "Seconds from receiving a webhook to finishing its event",
            _seconds_between(session, InboxEvent.received_at, InboxEvent.processed_at),
            InboxEvent.status.in_(("done", "ignored")) & InboxEvent.processed_at.is_not(None),
        )
        pops = self._histogram(
            session,
            "threadline_pop_latency_seconds",
            "Seconds from receiving the triggering webhook to delivering the pop",
            _seconds_between(session, Delivery.received_at, Delivery.delivered_at),
            (Delivery.status == "delivered")
            & Delivery.received_at.is_not(None)
            & Delivery.delivered_at.is_not(None),
            group=Delivery.target,
            label="target",
        )
        return [processing, pops]

    def _sync(self, session: Session) -> list[Metric]:
        runs = CounterMetricFamily(
            "threadline_sync_runs", "Pull-stream runs by outcome", labels=["connector", "status"]
        )
        calls = CounterMetricFamily(
            "threadline_crm_api_calls", "API calls made by pull-stream runs", labels=["connector"]
        )
        per_connector: dict[str, int] = {}
        for connector, status, n, spent in session.execute(
            select(
                SyncRun.connector, SyncRun.status, func.count(), func.sum(SyncRun.api_calls)
            ).group_by(SyncRun.connector, SyncRun.status)
        ).all():
            runs.add_metric([connector, status], int(n))
            per_connector[connector] = per_connector.get(connector, 0) + int(spent or 0)
        for connector, spent in sorted(per_connector.items()):
            calls.add_metric([connector], spent)
        lag = GaugeMetricFamily(
            "threadline_sync_lag_seconds",
            "Seconds since the last successful run of each pull stream ended",
            labels=["connector", "stream"],
        )
        now = utcnow()
        for connector, stream, last in session.execute(
            select(SyncRun.connector, SyncRun.stream, func.max(SyncRun.finished_at))
            .where(SyncRun.status == "succeeded")
            .group_by(SyncRun.connector, SyncRun.stream)
        ).all():
            if last is not None:
                lag.add_metric([connector, stream], max((now - last).total_seconds(), 0.0))
        return [runs, calls, lag]

    def _budgets(self, session: Session) -> list[Metric]:
        remaining = GaugeMetricFamily(
            "threadline_api_budget_remaining",
            "Vendor API calls left in the current window",
            labels=["bucket"],
        )
        limit = GaugeMetricFamily(
            "threadline_api_budget_limit", "Vendor API calls allowed per window", labels=["bucket"]
        )
        now = utcnow()
        for row in session.scalars(select(ApiBudget).order_by(ApiBudget.bucket)):
            budget = budget_json(row, now)
            remaining.add_metric([row.bucket], budget["remaining"])
            limit.add_metric([row.bucket], budget["limit"])
        return [remaining, limit]

    def _merges(self, session: Session) -> Metric:
        merges = CounterMetricFamily("threadline_merges", "Contacts merged into another")
        merges.add_metric(
            [],
            int(
                session.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action == "contact.merge")
                )
                or 0
            ),
        )
        return merges


def build_registry(runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(runtime))
    return registry


@bp.get("/metrics")
def metrics() -> Response:
    runtime: Runtime = current_app.extensions["threadline"]
    if not runtime.settings.admin.metrics_public:
        principal = principal_from_bearer(runtime, request.headers.get("Authorization", ""))
        refused = refuse_unless(principal, "viewer")
        if refused is not None:
            return refused
    registry: CollectorRegistry = current_app.extensions["threadline.metrics"]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
