"""Given the hand-written context reads (hub/customer_context.py), when a caller is
found through a merged contact, has a long timeline or is popped to a panel, then the
answer is the same one the ORM reads gave, in a bounded number of statements."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.flow import AUTH, drain, post
from helpers.signing import contact_event, interaction_event
from sqlalchemy import event, select

from hub.app import create_app
from hub.customer_context import RECENT
from hub.delivery import DeliveryWorker
from hub.identity.merge import merge_contacts
from hub.panel.links import agent_token
from hub.pops import PopFanout
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import Identifier, Pop, SourceRecord

SECRET = "panel-secret-0123456789abcdef"


def contact_of(runtime: Runtime, external_id: str) -> str:
    with runtime.read_sessions() as session:
        return str(
            session.scalar(
                select(SourceRecord.contact_id).where(SourceRecord.external_id == external_id)
            )
        )


def two_merged_people(client: Any, runtime: Runtime) -> tuple[str, str]:
    """Ada (c-1) survives; Grace (c-2) was merged into her but still holds an e-mail."""
    post(client, contact_event("c-1"))
    post(
        client,
        contact_event(
            "c-2", first_name="Grace", emails=["grace@example.com"], phones=["+44 20 7946 0000"]
        ),
    )
    drain(runtime)
    ada, grace = contact_of(runtime, "c-1"), contact_of(runtime, "c-2")
    with transaction(runtime.sessions) as session:
        merge_contacts(session, ada, grace, rule="admin", actor="test")
        # An identifier still filed under the merged contact (as rows written before
        # the merge by another process would be): lookups follow it to the survivor.
        session.add(Identifier(kind="email", value="old-grace@example.com", contact_id=grace))
    return ada, grace


def test_lookup_through_a_merged_contact_shows_the_survivor(client: Any, runtime: Runtime) -> None:
    ada, _ = two_merged_people(client, runtime)
    response = client.get("/api/v1/context?email=Old-Grace@Example.com", headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert body["contact"]["id"] == ada
    assert body["match"] == {
        "confidence": 1.0,
        "matched_on": {"kind": "email", "value": "old-grace@example.com"},
        "candidates": [],
    }
    by_phone = client.get("/api/v1/context?phone=+44 20 7946 0000", headers=AUTH).get_json()
    assert by_phone["contact"]["id"] == ada


def test_pop_for_a_merged_contact_carries_the_survivors_context(
    client: Any, runtime: Runtime
) -> None:
    ada, grace = two_merged_people(client, runtime)
    fanout = PopFanout(runtime.settings, runtime.connectors)
    with transaction(runtime.sessions) as session:
        pop = Pop(connector="events", trigger_key="t-1", trigger="test", contact_id=grace)
        session.add(pop)
        session.flush()
        payload = fanout.payload(session, pop, {"call": "x"})
        gone = Pop(connector="events", trigger_key="t-2", trigger="test", contact_id=None)
        session.add(gone)
        session.flush()
        empty = fanout.payload(session, gone)
    assert payload["contact"]["id"] == ada
    assert payload["recent_interactions"] == payload["interactions"]
    assert payload["trigger"]["data"] == {"call": "x"}
    assert (empty["contact"], empty["interactions"]) == (None, [])


def test_a_batch_of_pops_reads_the_same_contexts_as_one_pop_at_a_time(
    client: Any, runtime: Runtime
) -> None:
    ada, grace = two_merged_people(client, runtime)
    post(client, contact_event("c-3", first_name="Lin", emails=["lin@example.com"], phones=[]))
    post(client, interaction_event("call-1", contact={"email": "lin@example.com"}))
    drain(runtime)
    lin = contact_of(runtime, "c-3")
    fanout = PopFanout(runtime.settings, runtime.connectors)
    with transaction(runtime.sessions) as session:
        pops = [
            Pop(connector="events", trigger_key=f"b-{n}", trigger="test", contact_id=who)
            for n, who in enumerate([grace, lin, None, ada])
        ]
        session.add_all(pops)
        session.flush()
        together = fanout.payloads(session, [(pop, None) for pop in pops])
        alone = [fanout.payload(session, pop) for pop in pops]
    assert together == alone
    assert [p["contact"]["id"] if p["contact"] else None for p in together] == [
        ada,
        lin,
        None,
        ada,
    ]
    assert together[1]["interactions"][0]["channel"] == "voice"


def test_timeline_is_the_newest_twenty_whatever_its_length(client: Any, runtime: Runtime) -> None:
    post(client, contact_event("c-1"))
    for n in range(RECENT + 5):
        post(
            client,
            {
                **interaction_event(
                    f"chat-{n:02d}",
                    channel="chat",
                    status="open" if n % 2 else "solved",
                    occurred_at=f"2026-11-{1 + n:02d}T10:00:00Z",
                ),
                "type": "interaction.created",
            },
        )
    drain(runtime)
    body = client.get("/api/v1/context?phone=(415) 555-0142", headers=AUTH).get_json()
    refs = [i["source"]["ref"] for i in body["interactions"]]
    assert refs == [f"interaction:chat-{n:02d}" for n in range(RECENT + 4, 4, -1)]
    assert body["interactions"][0]["occurred_at"] == "2026-11-25T10:00:00+00:00"
    opened = [i["ref"] for i in body["open_items"]]
    assert opened == [f"interaction:chat-{n:02d}" for n in range(RECENT + 3, 0, -2)]
    assert body["routing"]["preferred_channel"] == "chat"


def test_context_lookup_reads_in_a_bounded_number_of_statements(
    client: Any, runtime: Runtime
) -> None:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("statements are counted with SQLite's trace hook")
    post(client, contact_event("c-1"))
    for n in range(30):
        post(client, interaction_event(f"call-{n}", occurred_at=f"2026-11-01T10:{n:02d}:00Z"))
    drain(runtime)
    statements: list[str] = []
    runtime.engine.dispose()  # new connections, each traced
    event.listen(
        runtime.engine,
        "connect",
        lambda dbapi, _record: dbapi.set_trace_callback(statements.append),
    )
    response = client.get("/api/v1/context?phone=(415) 555-0142", headers=AUTH)
    assert response.status_code == 200
    reads = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    # the holders, then identifiers, records, timeline, open items, journey, candidates
    assert len(reads) == 7, reads


def test_context_lookup_on_postgresql_is_one_statement_and_no_transaction(
    client: Any, runtime: Runtime, tmp_path: Path
) -> None:
    """What the server receives for one lookup, from libpq's own trace: one statement
    executed, and no BEGIN or ROLLBACK around it (hub.context_reads.lookup_reader)."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("the protocol trace is libpq's")
    post(client, contact_event("c-1"))
    post(client, interaction_event("call-1"))
    drain(runtime)
    assert client.get("/api/v1/context?phone=(415) 555-0142", headers=AUTH).status_code == 200
    trace = tmp_path / "libpq.trace"
    with trace.open("w") as sink:

        def start(dbapi: Any, _record: Any, _proxy: Any) -> None:
            dbapi.pgconn.trace(sink.fileno())

        def end(dbapi: Any, _record: Any) -> None:
            dbapi.pgconn.untrace()

        event.listen(runtime.engine, "checkout", start)
        event.listen(runtime.engine, "checkin", end)
        try:
            response = client.get("/api/v1/context?phone=(415) 555-0142", headers=AUTH)
        finally:
            event.remove(runtime.engine, "checkout", start)
            event.remove(runtime.engine, "checkin", end)
    assert response.status_code == 200
    assert response.get_json()["interactions"]
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    messages = [fields[3].split(" ")[0] for fields in sent if len(fields) > 3 and fields[1] == "F"]
    assert messages.count("Execute") == 1, messages
    assert "Query" not in messages, messages  # BEGIN and ROLLBACK go as simple queries


def test_panel_stream_delivers_pops_for_the_agent_and_for_everyone_in_order(
    make_runtime: Any,
) -> None:
    runtime = make_runtime(pops={"panel_secret": SECRET})
    client = create_app(runtime=runtime).test_client()
    response = client.get(
        f"/agent/stream?agent=agent-7&token={agent_token(SECRET, 'agent-7')}", buffered=False
    )
    chunks = iter(response.response)
    try:
        assert next(chunks).startswith(b"retry:")  # subscribed from here on
        runtime.bus.deliver_local("all", {"pop_id": 1})
        runtime.bus.deliver_local("agent:agent-8", {"pop_id": 2})
        runtime.bus.deliver_local("agent:agent-7", {"pop_id": 3})
        got = [json.loads(next(chunks).decode().split("data: ", 1)[1]) for _ in range(2)]
    finally:
        response.close()
    assert [m["pop_id"] for m in got] == [1, 3]


def test_pops_keep_reaching_other_processes_after_the_notify_connection_drops(
    make_runtime: Any,
) -> None:
    """The bus publishes on one kept connection; a dropped one is reopened."""
    web = make_runtime(pops={"panel_secret": SECRET})
    if web.engine.dialect.name != "postgresql":
        pytest.skip("cross-process pops use PostgreSQL LISTEN/NOTIFY; SQLite is one process")
    worker = make_runtime(pops={"panel_secret": SECRET})
    inbox = web.bus.subscribe("agent:agent-7")
    assert web.bus.wait_listening(5)  # type: ignore[attr-defined]
    client = create_app(runtime=worker).test_client()
    post(client, contact_event("c-1"))
    for n in range(3):
        post(client, interaction_event(f"call-{n}", agent="agent-7"))
        drain(worker)
        if n == 1:  # the server drops the publishing connection between two pops
            with worker.engine.connect() as conn:
                conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = %s",
                    (worker.bus._publisher.info.backend_pid,),  # type: ignore[attr-defined]
                )
        DeliveryWorker(worker, "w").run_once()
        message = inbox.get(timeout=5)
        assert message["interactions"][0]["source"]["ref"] == f"interaction:call-{n}"


def test_a_failed_lookup_hands_its_connection_back_as_it_was_lent(runtime: Runtime) -> None:
    """Whatever breaks inside a lookup, the pooled connection goes back outside autocommit
    and outside a transaction, so the next unit of work that borrows it is atomic."""
    from hub.context_reads import lookup_reader

    runtime.engine.dispose()  # one pooled connection: the next checkout is this one
    with pytest.raises(RuntimeError), lookup_reader(runtime.engine):
        raise RuntimeError("a bug in the middle of a lookup")
    pooled = runtime.engine.raw_connection()
    try:
        driver = pooled.driver_connection
        if runtime.engine.dialect.name == "postgresql":
            assert driver is not None
            assert driver.autocommit is False
        else:
            assert driver is not None
            assert not driver.in_transaction
    finally:
        pooled.close()
