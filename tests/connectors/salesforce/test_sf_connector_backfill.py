"""Backfills and increments into a real store (SQLite or PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import sf_helpers as h
from sf_clock import FakeClock
from sqlalchemy import func, select

from connectors.salesforce.sandbox import SalesforceSandbox
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer
from hub.store.models import Contact, Identifier, Interaction, SourceRecord
from hub.sync import run_stream

Mount = Callable[[SalesforceSandbox], str]


def _count(runtime: Runtime, model: type, *where: object) -> int:
    with runtime.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_10k_backfill_reads_every_record_through_query_more(mount: Mount, clock: FakeClock) -> None:
    sandbox = SalesforceSandbox(
        seed=11, counts={"User": 2, "Account": 50, "Contact": 10_000}, clock=clock
    )
    sf = h.connector(sandbox, mount(sandbox), clock)
    pages = list(h.stream(sf, "contacts").read({}))
    ids = {r.external_id for p in pages for r in p.records}
    assert len(ids) == 10_000
    assert max(len(p.records) for p in pages) == 2000  # queryMore's largest batch


def test_10k_contact_backfill_is_stored_with_progress(
    make_runtime: Callable[..., Runtime], mount: Mount, clock: FakeClock
) -> None:
    """End to end into the store (records per second are a figure: bench/backfill.py)."""
    sandbox = SalesforceSandbox(
        seed=11, counts={"User": 2, "Account": 50, "Contact": 10_000}, clock=clock
    )
    runtime, sf = h.runtime(make_runtime, sandbox, mount(sandbox), clock)
    progress: list[tuple[int, int | None]] = []
    run = run_stream(
        runtime,
        sf,
        h.stream(sf, "contacts"),
        full=True,
        progress=lambda r, estimate: progress.append((r.records_read, estimate)),
    )
    assert run.status == "succeeded", run.error
    assert run.records_read == 10_000
    assert progress[0] == (2000, 10_000)
    assert [p[0] for p in progress][:5] == [2000, 4000, 6000, 8000, 10_000]
    assert _count(runtime, SourceRecord, SourceRecord.object_type == "contact") == 10_000
    assert _count(runtime, Identifier, Identifier.kind == "email") > 5000


def test_incremental_sync_applies_edits_and_deletes_to_the_store(
    make_runtime: Callable[..., Runtime],
    sandbox: SalesforceSandbox,
    server: RunningServer,
    clock: FakeClock,
) -> None:
    runtime, sf = h.runtime(make_runtime, sandbox, server.url, clock)
    stream = h.stream(sf, "contacts")
    assert run_stream(runtime, sf, stream).status == "succeeded"
    first, second = (r["Id"] for r in sandbox.records("Contact")[:2])
    sandbox.update_record("Contact", first, {"FirstName": "Grace", "LastName": "Hopper"})
    sandbox.delete_record("Contact", second)
    clock.advance(minutes=2)
    run = run_stream(runtime, sf, stream)
    assert run.status == "succeeded", run.error
    with runtime.read_sessions() as session:
        edited = session.scalar(select(SourceRecord).where(SourceRecord.external_id == first))
        gone = session.scalar(select(SourceRecord).where(SourceRecord.external_id == second))
        assert edited is not None
        assert gone is not None
        contact = session.get(Contact, edited.contact_id)
        assert contact is not None
        assert contact.display_name == "Grace Hopper"
        assert gone.deleted_at is not None


def test_activities_and_cases_land_on_the_contact_timeline(
    make_runtime: Callable[..., Runtime],
    sandbox: SalesforceSandbox,
    server: RunningServer,
    clock: FakeClock,
) -> None:
    runtime, sf = h.runtime(make_runtime, sandbox, server.url, clock)
    for name in ("contacts", "leads", "accounts", "cases", "tasks", "events"):
        run = run_stream(runtime, sf, h.stream(sf, name))
        assert run.status == "succeeded", (name, run.error)
    task = next(t for t in sandbox.records("Task") if str(t.get("WhoId", "")).startswith("003"))
    with runtime.read_sessions() as session:
        interaction = session.scalar(
            select(Interaction).where(Interaction.source_ref == f"task:{task['Id']}")
        )
        owner = session.scalar(
            select(SourceRecord).where(
                SourceRecord.object_type == "contact", SourceRecord.external_id == task["WhoId"]
            )
        )
        assert interaction is not None
        assert owner is not None
        assert interaction.contact_id == owner.contact_id
        expected = (
            "voice"
            if task.get("CallType") or task.get("TaskSubtype") == "Call"
            else ("crm-activity")
        )
        assert interaction.channel == expected
    assert _count(runtime, Interaction, Interaction.source_ref.like("case:%")) == 15


class _Stop(Exception):
    """Ends a run from its progress callback, as a crash between pages would."""


def test_read_ahead_backfill_resumes_after_a_stop_without_gap_or_duplicate(
    make_runtime: Callable[..., Runtime], mount: Mount, clock: FakeClock
) -> None:
    # read_ahead reads batch N+1 while batch N is stored (PostgreSQL; SQLite ignores it).
    # A run that stops mid-way leaves no reader behind, and the next run resumes from
    # the last committed batch: every record stored exactly once.
    sandbox = SalesforceSandbox(
        seed=5, counts={"User": 2, "Account": 5, "Contact": 1000}, clock=clock
    )
    options = {"contacts": {"page_size": 200, "query_limit": 400, "read_ahead": True}}
    runtime, sf = h.runtime(make_runtime, sandbox, mount(sandbox), clock, streams=options)
    stream = h.stream(sf, "contacts")

    def stop_after_two_pages(run: Any, _estimate: int | None) -> None:
        if run.pages == 2:
            raise _Stop

    first = run_stream(runtime, sf, stream, full=True, progress=stop_after_two_pages)
    assert first.status == "failed"
    assert first.records_read == 400
    assert not [t for t in threading.enumerate() if t.name == "sync-prefetch"]
    second = run_stream(runtime, sf, stream, full=True)
    assert second.status == "succeeded", second.error
    assert 600 <= second.records_read < 1000  # resumed (plus its lookback), not restarted
    assert _count(runtime, SourceRecord, SourceRecord.object_type == "contact") == 1000
