"""Backfills and increments into a real store (SQLite or PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Callable

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


def test_10k_backfill_reads_every_record_through_query_more_in_seconds(
    mount: Mount, clock: FakeClock
) -> None:
    sandbox = SalesforceSandbox(
        seed=11, counts={"User": 2, "Account": 50, "Contact": 10_000}, clock=clock
    )
    sf = h.connector(sandbox, mount(sandbox), clock)
    started = time.perf_counter()
    pages = list(h.stream(sf, "contacts").read({}))
    elapsed = time.perf_counter() - started
    ids = {r.external_id for p in pages for r in p.records}
    assert len(ids) == 10_000
    print(f"10k read: {elapsed:.2f}s, {10_000 / elapsed:.0f} records/s")  # noqa: T201
    assert elapsed < 5


def test_10k_contact_backfill_is_stored_with_progress(
    make_runtime: Callable[..., Runtime], mount: Mount, clock: FakeClock
) -> None:
    """End to end into the store. Its time is dominated by the hub's per-record identity
    work (about 3 ms a record on SQLite), not by Salesforce paging (see the test above)."""
    sandbox = SalesforceSandbox(
        seed=11, counts={"User": 2, "Account": 50, "Contact": 10_000}, clock=clock
    )
    runtime, sf = h.runtime(make_runtime, sandbox, mount(sandbox), clock)
    progress: list[tuple[int, int | None]] = []
    started = time.perf_counter()
    run = run_stream(
        runtime,
        sf,
        h.stream(sf, "contacts"),
        full=True,
        progress=lambda r, estimate: progress.append((r.records_read, estimate)),
    )
    elapsed = time.perf_counter() - started
    assert run.status == "succeeded", run.error
    assert run.records_read == 10_000
    assert progress[0] == (2000, 10_000)
    assert [p[0] for p in progress][:5] == [2000, 4000, 6000, 8000, 10_000]
    assert _count(runtime, SourceRecord, SourceRecord.object_type == "contact") == 10_000
    assert _count(runtime, Identifier, Identifier.kind == "email") > 5000
    print(f"10k backfill into the store: {elapsed:.2f}s, {10_000 / elapsed:.0f} records/s")  # noqa: T201
    assert elapsed < 240  # SQLite ~34 s, PostgreSQL ~78 s here: the hub apply dominates


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
