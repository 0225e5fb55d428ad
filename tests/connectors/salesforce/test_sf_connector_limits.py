"""API limits: in-call retries with backoff, the error table, and a backfill that stops
before the org's daily allocation is spent and resumes from its committed cursor."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import pytest
import sf_helpers as h
from sf_clock import FakeClock
from sqlalchemy import func, select

import hub.context
from connectors.salesforce.sandbox import SalesforceSandbox
from hub.errors import FatalConnectorError, RetriableError
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer
from hub.store.models import SourceRecord
from hub.sync import run_stream

COUNT = "SELECT COUNT() FROM Contact"


def test_request_limit_exceeded_and_503_are_retried_with_growing_backoff(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    sf = h.connector(sandbox, server.url)
    sleeps = h.tune(sf)
    sf.client.login()
    sandbox.inject_request_limit_exceeded(2)
    sandbox.inject_errors(1, status=503)
    result = sf.client.call("count", lambda s: s.query(COUNT))
    assert result is not None
    assert result["totalSize"] == 450
    assert len(sleeps) == 3
    assert sleeps[0] < sleeps[2] <= sf.client.backoff_cap
    assert sandbox.faults.pending_errors == 0


def test_persistent_503_becomes_retriable_with_retry_after_and_logs_no_body(
    sandbox: SalesforceSandbox, server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    sf = h.connector(sandbox, server.url)
    sandbox.inject_errors(10, status=503, message="SECRET-BODY-TEXT")
    with caplog.at_level(logging.WARNING), pytest.raises(RetriableError) as caught:
        sf.client.call("count", lambda s: s.query(COUNT))
    assert caught.value.retry_after
    assert caught.value.retry_after > 0
    assert "SERVER_UNAVAILABLE" in str(caught.value)
    assert "host 127.0.0.1" in str(caught.value)  # the sandbox adapter rewrote the host
    logged = [r for r in caplog.records if r.getMessage() == "salesforce.call_failed"]
    assert len(logged) == sf.client.max_attempts
    assert logged[0].error_code == "SERVER_UNAVAILABLE"  # type: ignore[attr-defined]
    assert all("SECRET-BODY-TEXT" not in str(r.__dict__) for r in caplog.records)


def test_unknown_custom_field_is_fatal_and_names_the_field(
    sandbox: SalesforceSandbox, server: RunningServer, clock: FakeClock
) -> None:
    sf = h.connector(
        sandbox, server.url, clock, streams={"contacts": {"extra_fields": ["Loyalty_Tier__c"]}}
    )
    with pytest.raises(FatalConnectorError, match="field Loyalty_Tier__c"):
        list(h.stream(sf, "contacts").read({}))


def test_missing_record_is_skipped_when_allowed(
    sandbox: SalesforceSandbox, server: RunningServer
) -> None:
    sf = h.connector(sandbox, server.url)
    missing = "0035g00000009ZZAAA"
    assert sf.client.call("get", lambda s: s.Contact.get(missing), missing_ok=True) is None


def test_backfill_stops_at_80_percent_then_resumes_from_its_cursor(
    make_runtime: Callable[..., Runtime],
    sandbox: SalesforceSandbox,
    server: RunningServer,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime, sf = h.runtime(
        make_runtime, sandbox, server.url, clock, streams={"contacts": {"page_size": 200}}
    )
    sleeps = h.tune(sf, clock)
    sandbox.set_api_limit(100, used=78)
    stream = h.stream(sf, "contacts")

    first = run_stream(runtime, sf, stream, full=True)
    assert first.status == "deferred"
    assert "RetriableError" in (first.error or "")
    assert "backfill" in (first.error or "")
    assert first.records_read == 400  # two pages committed, then the budget said stop
    assert sleeps, "the client slows down as usage nears the allocation"
    assert sandbox.quota.used <= 81  # never more than 80 % (+ the call that reported it)

    assert sf.check().ok  # live work keeps its reserve while the backfill waits

    # The next day: a new budget window and a fresh org allocation.
    real_now = hub.context.utcnow
    monkeypatch.setattr(hub.context, "utcnow", lambda: real_now() + timedelta(days=1))
    sandbox.set_api_limit(100, used=0)
    second = run_stream(runtime, sf, stream, full=True)
    assert second.status == "succeeded", second.error
    assert second.records_read < 100  # resumed after the committed cursor (+ lookback)
    with runtime.read_sessions() as session:
        stored = session.scalar(
            select(func.count())
            .select_from(SourceRecord)
            .where(SourceRecord.connector == "sf", SourceRecord.object_type == "contact")
        )
    assert stored == 450
