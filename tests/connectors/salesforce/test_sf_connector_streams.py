"""Pull streams against the sandbox: pages, queryMore, keyset restarts, edits mid-sync,
deletes, estimates, and the signpost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sf_helpers as h
from sf_clock import FakeClock

from connectors.salesforce.sandbox import SalesforceSandbox
from hub.plugin import Page
from hub.sandbox_server import RunningServer
from hub.transforms import parse_datetime

Mount = Callable[[SalesforceSandbox], str]


def _keys(pages: list[Page]) -> list[tuple[Any, str]]:
    return [
        (parse_datetime(p.cursor["since"]), p.cursor["last_id"])
        for p in pages
        if p.cursor.get("since")
    ]


def _count_requests(sandbox: SalesforceSandbox, path: str) -> list[str]:
    seen: list[str] = []
    sandbox.before_request(lambda: seen.append(path), path_contains=path, times=1000)
    return seen


def test_backfill_reads_2000_record_pages_through_query_more(
    mount: Mount, clock: FakeClock
) -> None:
    sandbox = SalesforceSandbox(
        seed=3, counts={"User": 2, "Account": 5, "Contact": 4500}, clock=clock
    )
    sf = h.connector(sandbox, mount(sandbox), clock)
    more = _count_requests(sandbox, "/query/01g")
    pages = list(h.stream(sf, "contacts").read({}))
    sizes = [len(p.records) for p in pages]
    assert sizes == [2000, 2000, 500, 0]  # the last page only carries the deletes cursor
    assert len(more) == 2
    ids = [r.external_id for p in pages for r in p.records]
    assert len(set(ids)) == 4500
    keys = _keys(pages)
    assert keys == sorted(keys)
    assert pages[-1].cursor["deleted_since"] == "2024-06-03T11:59:59Z"


def test_keyset_restarts_a_query_after_query_limit_records(
    sandbox: SalesforceSandbox, server: RunningServer, clock: FakeClock
) -> None:
    sf = h.connector(
        sandbox, server.url, clock, streams={"contacts": {"page_size": 200, "query_limit": 200}}
    )
    queries = _count_requests(sandbox, "/query")
    pages = list(h.stream(sf, "contacts").read({}))
    ids = [r.external_id for p in pages for r in p.records]
    assert len(ids) == len(set(ids)) == 450
    assert len(queries) == 3  # 200 + 200 + 50, each its own keyset query
    assert _keys(pages) == sorted(_keys(pages))


def test_a_record_edited_mid_sync_is_read_again_and_the_cursor_stays_monotone(
    sandbox: SalesforceSandbox, server: RunningServer, clock: FakeClock
) -> None:
    sf = h.connector(sandbox, server.url, clock, streams={"contacts": {"page_size": 200}})
    stream = h.stream(sf, "contacts")
    pages = stream.read({})
    first = next(pages)
    done_id = first.records[0].external_id
    ahead_id = sandbox.records("Contact")[-1]["Id"]  # read in a later page, whichever

    def edit() -> None:
        clock.advance(seconds=5)
        sandbox.update_record("Contact", done_id, {"Title": "Edited after read"})
        sandbox.update_record("Contact", ahead_id, {"Title": "Edited before read"})

    sandbox.before_request(edit, path_contains="/query/01g")
    run1 = [first, *pages]
    signpost = parse_datetime("2024-06-03T11:59:59Z")
    assert all(key[0] <= signpost for key in _keys(run1))
    assert _keys(run1) == sorted(_keys(run1))
    seen = {r.external_id: r for p in run1 for r in p.records}
    assert seen[ahead_id].data["Title"] == "Edited before read"  # newest version emitted

    clock.advance(minutes=10)
    run2 = list(stream.read(run1[-1].cursor))
    again = {r.external_id: r for p in run2 for r in p.records}
    assert again[done_id].data["Title"] == "Edited after read"
    assert ahead_id in again
    assert _keys(run2) == sorted(_keys(run2))
    assert _keys(run2)[0] >= _keys(run1)[-1]


def test_incremental_run_reads_only_changes_plus_the_lookback(
    sandbox: SalesforceSandbox, server: RunningServer, clock: FakeClock
) -> None:
    sf = h.connector(sandbox, server.url, clock)
    stream = h.stream(sf, "leads")
    cursor = list(stream.read({}))[-1].cursor
    assert stream.estimate(cursor) == 0
    clock.advance(minutes=30)
    lead = sandbox.records("Lead")[0]["Id"]
    sandbox.update_record("Lead", lead, {"Company": "Renamed Ltd"})
    assert stream.estimate(cursor) == 1
    clock.advance(seconds=2)
    pages = list(stream.read(cursor))
    ids = [r.external_id for p in pages for r in p.records]
    # the 5-minute lookback re-reads the last record before the cursor, then the change
    assert ids == [cursor["last_id"], lead]
    assert pages[-1].cursor["last_id"] == lead


def test_deletes_come_from_the_deleted_resource(
    sandbox: SalesforceSandbox, server: RunningServer, clock: FakeClock
) -> None:
    sf = h.connector(sandbox, server.url, clock)
    stream = h.stream(sf, "contacts")
    cursor = list(stream.read({}))[-1].cursor
    gone = [r["Id"] for r in sandbox.records("Contact")[:2]]
    for record_id in gone:
        sandbox.delete_record("Contact", record_id)
    clock.advance(minutes=2)
    pages = list(stream.read(cursor))
    deleted = [d.external_id for p in pages for d in p.deletions]
    assert sorted(deleted) == sorted(gone)
    assert pages[-1].cursor["deleted_since"] == "2024-06-03T12:02:00Z"


def test_activities_link_to_contact_or_lead_and_calls_become_voice(
    mount: Mount, clock: FakeClock
) -> None:
    sandbox = SalesforceSandbox(
        seed=5,
        counts={"User": 2, "Account": 3, "Contact": 5, "Lead": 3, "Task": 0, "Event": 0},
        clock=clock,
    )
    sf = h.connector(sandbox, mount(sandbox), clock)
    contact = sandbox.records("Contact")[0]["Id"]
    lead = sandbox.records("Lead")[0]["Id"]
    call = sandbox.create_record(
        "Task", {"WhoId": contact, "Subject": "Call", "TaskSubtype": "Call", "CallType": "Inbound"}
    )
    note = sandbox.create_record("Task", {"WhoId": lead, "Subject": "Send brochure"})
    own = sandbox.create_record(
        "Task", {"WhoId": lead, "Subject": "pop", "CallObject": "threadline:abc"}
    )
    clock.advance(seconds=5)
    records = {r.external_id: r.data for p in h.stream(sf, "tasks").read({}) for r in p.records}
    assert own not in records  # Threadline's own pop Tasks are not read back
    assert records[call]["Channel"] == "voice"
    assert records[call]["Direction"] == "inbound"
    assert records[call]["WhoContactId"] == contact
    assert records[note]["Channel"] == "crm-activity"
    assert records[note]["WhoLeadId"] == lead
    assert records[note]["WhoContactId"] is None
