"""Small helpers for end-to-end tests: post signed events, drain the inbox, count rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from helpers.config import TEST_TOKEN as TOKEN
from helpers.signing import signed
from sqlalchemy import func, select

from hub.identity.candidate_queue import drain as score_candidates
from hub.plugin import SourceRecord
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.records import upsert_contact_record
from hub.worker import Worker

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post(client: Any, payload: Any, connector: str = "events", **kwargs: Any) -> Any:
    body, headers = signed(payload, **kwargs)
    return client.post(f"/webhooks/{connector}", data=body, headers=headers)


def request_line(caplog: pytest.LogCaptureFixture, send: Callable[[], object]) -> dict[str, Any]:
    """The ``http.request`` log line (hub/app.py) of the one request ``send`` makes."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hub.app"):
        send()
    (record,) = [r for r in caplog.records if r.msg == "http.request"]
    return {k: getattr(record, k) for k in ("method", "path", "endpoint", "status")}


def drain(runtime: Runtime, worker_id: str = "test-worker") -> int:
    """Process every queued inbox event, then score every contact those events queued
    for candidates (hub/identity/candidate_queue.py), as a running worker would."""
    worker = Worker(runtime, worker_id=worker_id)
    total = 0
    while n := worker.run_once():
        total += n
    score_candidates(runtime.sessions, runtime.pipeline.identity, worker_id=worker_id)
    return total


def count(runtime: Runtime, model: Any, *where: Any) -> int:
    with runtime.read_sessions() as session:
        query = select(func.count()).select_from(model)
        for clause in where:
            query = query.where(clause)
        return int(session.scalar(query) or 0)


def record_by_record(runtime: Runtime, connector: str, record: SourceRecord) -> None:
    """The reference for the page path: the ORM path (hub.store.records), one record per
    transaction. (The pipeline sends every contact record through the page path.)"""
    pipeline = runtime.pipeline
    mapping = pipeline.mappings.get(connector, record.object_type)
    assert mapping is not None
    with transaction(runtime.sessions) as session:
        upsert_contact_record(
            session,
            connector=connector,
            object_type=record.object_type,
            external_id=record.external_id,
            mapped=mapping.apply(record.data, pipeline.ctx),
            updated_at=record.updated_at,
            rules=pipeline.identity,
        )
