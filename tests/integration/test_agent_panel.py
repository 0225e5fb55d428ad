"""The agent panel: signed links, the live stream, and confirming a candidate match."""

from __future__ import annotations

import json
from typing import Any

from helpers.flow import drain, post
from helpers.signing import contact_event, interaction_event
from sqlalchemy import select

from hub.app import create_app
from hub.delivery import DeliveryWorker
from hub.panel.links import agent_link, agent_token
from hub.store.models import AuditEntry, Interaction, Pop

SECRET = "panel-secret-0123456789abcdef"


def panel_runtime(make_runtime: Any) -> Any:
    return make_runtime(pops={"panel_secret": SECRET})


def test_panel_refuses_a_link_for_another_agent(make_runtime: Any) -> None:
    client = create_app(runtime=panel_runtime(make_runtime)).test_client()
    good = agent_token(SECRET, "agent-7")
    assert client.get(f"/agent?agent=agent-7&token={good}").status_code == 200
    assert client.get(f"/agent?agent=agent-8&token={good}").status_code == 401
    assert client.get(f"/agent/stream?agent=agent-8&token={good}").status_code == 401


def test_panel_without_a_secret_is_not_served(client: Any) -> None:
    response = client.get("/agent?agent=a&token=b")
    assert (response.status_code, response.get_json()["title"]) == (503, "panel_not_configured")


def test_link_carries_the_agent_and_its_token() -> None:
    link = agent_link("https://hub.example.com/", SECRET, "agent 7")
    assert link == (
        "https://hub.example.com/agent?agent=agent+7&token=" + agent_token(SECRET, "agent 7")
    )


def first_pop_event(client: Any, agent: str) -> dict[str, Any]:
    response = client.get(
        f"/agent/stream?agent={agent}&token={agent_token(SECRET, agent)}", buffered=False
    )
    try:
        for chunk in response.response:
            text = chunk.decode() if isinstance(chunk, bytes) else chunk
            if text.startswith("event: pop"):
                return json.loads(text.split("data: ", 1)[1])
    finally:
        response.close()
    raise AssertionError("no pop event")


def test_stream_replays_the_agents_latest_pop_on_connect(make_runtime: Any) -> None:
    runtime = panel_runtime(make_runtime)
    client = create_app(runtime=runtime).test_client()
    post(client, contact_event("c-1"))
    post(client, interaction_event("call-1", agent="agent-7"))
    drain(runtime)
    DeliveryWorker(runtime, "w").run_once()
    pop = first_pop_event(client, "agent-7")
    assert pop["contact"]["display_name"] == "Ada Lovelace"
    assert pop["trigger"]["agent"] == "agent-7"


def test_agent_confirming_a_candidate_moves_the_call_and_audits_it(make_runtime: Any) -> None:
    runtime = panel_runtime(make_runtime)
    client = create_app(runtime=runtime).test_client()
    post(client, contact_event("a", emails=["a@example.com"], phones=["+1 212 555 0100"]))
    post(client, contact_event("b", emails=["b@example.com"], phones=["+1 212 555 0100"]))
    drain(runtime)
    post(client, interaction_event("call-1", agent="agent-7", contact={"phone": "2125550100"}))
    drain(runtime)
    with runtime.read_sessions() as session:
        pop = session.scalars(select(Pop)).one()
        b = session.scalars(select(Interaction)).one().contact_id  # the unresolved stub
    with runtime.read_sessions() as session:
        from hub.store.models import SourceRecord

        chosen = (
            session.scalars(select(SourceRecord).where(SourceRecord.external_id == "b"))
            .one()
            .contact_id
        )
    assert chosen != b
    answer = client.post(
        "/agent/match",
        json={
            "agent": "agent-7",
            "token": agent_token(SECRET, "agent-7"),
            "pop_id": pop.id,
            "contact_id": chosen,
            "decision": "confirm",
        },
    )
    assert answer.status_code == 200
    with runtime.read_sessions() as session:
        assert session.scalars(select(Interaction)).one().contact_id == chosen
        audit = session.scalars(select(AuditEntry)).one()
    assert (audit.action, audit.actor) == ("match.confirmed", "agent:agent-7")
    assert audit.details["previous_contact"] == b
    forged = client.post(
        "/agent/match",
        json={
            "agent": "agent-7",
            "token": "x",
            "pop_id": pop.id,
            "contact_id": chosen,
            "decision": "confirm",
        },
    )
    assert forged.status_code == 401


def test_pop_built_by_another_process_reaches_this_processes_stream(make_runtime: Any) -> None:
    """Two runtimes stand for a worker host and a web host sharing PostgreSQL."""
    import pytest

    web = panel_runtime(make_runtime)
    if web.engine.dialect.name != "postgresql":
        pytest.skip("cross-process pops use PostgreSQL LISTEN/NOTIFY; SQLite is one process")
    worker = panel_runtime(make_runtime)
    inbox = web.bus.subscribe("agent:agent-7")  # starts LISTEN, like an opening panel
    assert web.bus.wait_listening(5)  # type: ignore[attr-defined]
    client = create_app(runtime=worker).test_client()
    post(client, contact_event("c-1"))
    post(client, interaction_event("call-1", agent="agent-7"))
    drain(worker)
    DeliveryWorker(worker, "w").run_once()
    message = inbox.get(timeout=5)
    assert message["contact"]["display_name"] == "Ada Lovelace"
    assert message["delivery_id"] > 0
