"""The worker's batch path (Pipeline.apply_batch) leaves the store exactly as applying
the same events one by one does (each batch's contact records first, as the batch path
takes them); a failing event or a lost lease never takes its neighbours down with it."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from hub import inbox
from hub.batch_apply import BatchEvent
from hub.plugin import Change, InboundEvent
from hub.runtime import Runtime
from hub.store import batch as batch_store
from hub.store import records
from hub.store.db import transaction
from hub.store.models import (
    Base,
    Contact,
    Delivery,
    Identifier,
    InboxEvent,
    Interaction,
    Journey,
    Pop,
)
from hub.worker import Worker
from webhooks import RawRequest

BASE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SWITCHBOARD = "+12125550100"
CHANNELS = ["voice", "chat", "whatsapp", "email", "sms"]


def stream(seed: int) -> list[tuple[str, dict[str, Any]]]:
    """Contact updates, calls and chats (found by phone, e-mail, the contact's id, a
    switchboard number or nobody), re-sent starts, status updates, unknown types."""
    rng = random.Random(seed)
    events: list[tuple[str, dict[str, Any]]] = []
    started: list[dict[str, Any]] = []
    for i in range(160):
        person = rng.randrange(40)
        roll = rng.random()
        at = BASE + timedelta(minutes=rng.randint(0, 600))
        if roll < 0.25:
            data = {
                "id": f"c-{person}",
                "first_name": rng.choice(["Ana", "Bo", None]),
                "last_name": f"L{person}",
                "emails": [f"p{person}@example.com"],
                "phones": [rng.choice([f"+1415555{person:04d}", SWITCHBOARD])],
                "updated_at": at.isoformat(),
            }
            events.append(("contact.updated", data))
        elif roll < 0.8 or not started:
            who = rng.choice(
                [
                    {"phone": f"(415) 555-{person:04d}"},
                    {"email": f"P{person}@Example.com"},
                    {"id": f"c-{person}"},
                    {"id": f"c-{person}", "phone": f"+1415555{person:04d}"},
                    {"phone": SWITCHBOARD},
                    {"phone": f"+1646555{rng.randrange(10_000):04d}"},  # a stranger
                ]
            )
            data = {
                "id": f"i-{i}",
                "channel": rng.choice(CHANNELS),
                "direction": "inbound",
                "occurred_at": at.isoformat(),
                "status": "ringing",
                "summary": f"topic {rng.randrange(5)}",
                "agent": rng.choice(["agent-1", "agent-2", None]),
                "contact": who,
            }
            started.append(data)
            events.append(("interaction.started", data))
        elif roll < 0.9:
            earlier = rng.choice(started)
            events.append(("interaction.started", earlier))  # re-sent: one pop only
        elif roll < 0.97:
            earlier = rng.choice(started)
            events.append(("interaction.updated", {**earlier, "status": "completed"}))
        else:
            events.append(("contact.archived_somewhere", {"id": f"c-{person}"}))
    return events


def interpreted(runtime: Runtime, seed: int) -> list[BatchEvent]:
    connector = runtime.connectors["events"]
    out = []
    for n, (kind, data) in enumerate(stream(seed)):
        event = InboundEvent(f"e-{seed}-{n}", kind, {"type": kind, "data": data})
        out.append(BatchEvent("events", connector.interpret(event), BASE))
    return out


def snapshot(runtime: Runtime) -> set[Any]:
    """The store with ids replaced by what they stand for: a contact by the keys it
    holds, a journey by its contact and start, an interaction by its source ref."""
    with runtime.read_sessions() as session:
        keys: dict[str, set[tuple[str, str]]] = {}
        for ident in session.scalars(select(Identifier)):
            keys.setdefault(ident.contact_id, set()).add((ident.kind, ident.value))
        name = {c: tuple(sorted(k)) for c, k in keys.items()}
        contacts = {
            (
                name.get(c.id),
                c.merged_into_id is None,
                c.first_name,
                c.last_name,
                json.dumps(c.lineage, sort_keys=True),
            )
            for c in session.scalars(select(Contact))
        }
        journey = {
            j.id: (name.get(j.contact_id), j.started_at) for j in session.scalars(select(Journey))
        }
        journeys = {
            (*journey[j.id], j.last_at, tuple(j.channels), j.interactions, j.channel_switches)
            for j in session.scalars(select(Journey))
        }
        ref = {}
        interactions = set()
        for row in session.scalars(select(Interaction)):
            ref[row.id] = row.source_ref
            interactions.add(
                (
                    row.source_ref,
                    name.get(row.contact_id),
                    row.channel,
                    row.status,
                    row.summary,
                    row.agent,
                    row.occurred_at,
                    row.channel_switch,
                    journey.get(row.journey_id) if row.journey_id else None,
                    json.dumps(row.data, sort_keys=True),
                )
            )
        pops = {
            (
                p.trigger_key,
                name.get(p.contact_id or ""),
                ref.get(p.interaction_id or 0),
                p.channel,
                p.agent,
                p.status,
            )
            for p in session.scalars(select(Pop))
        }
        pop_key = {f"pop-{p.id}": p.trigger_key for p in session.scalars(select(Pop))}
        deliveries = {
            (
                d.target,
                pop_key[d.idempotency_key],
                name.get(d.contact_id or ""),
                d.received_at,
                json.dumps({**d.payload["trigger"], "pop_id": None}, sort_keys=True),
                name.get((d.payload.get("contact") or {}).get("id", "")),
            )
            for d in session.scalars(select(Delivery))
        }
    return (
        {("contact", *c) for c in contacts}
        | {("journey", *j) for j in journeys}
        | {("interaction", *i) for i in interactions}
        | {("pop", *p) for p in pops}
        | {("delivery", *d) for d in deliveries}
    )


def wipe(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_path_equals_event_by_event(runtime: Runtime, seed: int) -> None:
    events = interpreted(runtime, seed)
    pipeline = runtime.pipeline
    assert all(pipeline.batchable(e.connector, e.changes) for e in events)
    chunks = [events[start : start + 30] for start in range(0, len(events), 30)]
    one_by_one_outcomes = []
    for chunk in chunks:
        contacts_first = sorted(
            chunk, key=lambda e: getattr(e.changes[0], "object_type", "") != "contact"
        )
        for event in contacts_first:
            with transaction(runtime.sessions) as session:
                outcome = pipeline.apply_for(session, event.connector, event.changes, BASE)
            one_by_one_outcomes.append(outcome)
    expected = snapshot(runtime)
    wipe(runtime)
    batched_outcomes = []
    for chunk in chunks:
        with transaction(runtime.sessions) as session:
            batched_outcomes += pipeline.apply_batch(session, chunk)
    assert snapshot(runtime) == expected
    statuses = [o.status for o in batched_outcomes]
    assert statuses.count("ignored") == [o.status for o in one_by_one_outcomes].count("ignored")
    assert "ignored" in statuses
    kinds = {row[0] for row in expected}
    assert {"contact", "journey", "interaction", "pop", "delivery"} <= kinds
    # The data exercises what the batch path must get right.
    with runtime.read_sessions() as session:
        switches = session.scalars(select(Interaction).where(Interaction.channel_switch)).all()
        stubs = session.scalars(
            select(Identifier).where(Identifier.kind.like("unresolved:%"))
        ).all()
    assert switches
    assert stubs


def _store(runtime: Runtime, events: list[tuple[str, dict[str, Any]]]) -> None:
    raw = RawRequest.build("POST", "http://test/webhooks/events", {}, b"{}")
    with transaction(runtime.sessions) as session:
        inbox.store_events(
            session,
            connector="events",
            endpoint="",
            raw=raw,
            events=[
                InboundEvent(f"k-{n}", kind, {"type": kind, "data": data})
                for n, (kind, data) in enumerate(events)
            ],
        )


def _statuses(runtime: Runtime) -> dict[str, str]:
    with runtime.read_sessions() as session:
        return dict(session.execute(select(InboxEvent.idempotency_key, InboxEvent.status)).all())


def test_a_failing_event_fails_alone(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    events = [e for e in stream(7) if e[0] == "interaction.started"][:12]
    poison = events[5][1]["id"]
    real_write, real_record = batch_store.InteractionBatch.write, records.record_interaction

    def write(self: Any, items: Any) -> Any:
        if any(i.source_ref == f"interaction:{poison}" for i in items):
            raise RuntimeError("the store refused this interaction")
        return real_write(self, items)

    def record(session: Any, **kwargs: Any) -> Any:
        if kwargs["source_ref"] == f"interaction:{poison}":
            raise RuntimeError("the store refused this interaction")
        return real_record(session, **kwargs)

    monkeypatch.setattr(batch_store.InteractionBatch, "write", write)
    monkeypatch.setattr(records, "record_interaction", record)
    _store(runtime, events)
    assert Worker(runtime, worker_id="w1").run_once() == len(events)
    statuses = _statuses(runtime)
    assert statuses.pop("k-5") == "pending"  # retried later, with its error
    assert set(statuses.values()) == {"done"}
    with runtime.read_sessions() as session:
        refs = set(session.scalars(select(Interaction.source_ref)))
        error = session.scalar(
            select(InboxEvent.last_error).where(InboxEvent.idempotency_key == "k-5")
        )
    assert f"interaction:{poison}" not in refs
    assert len(refs) == len({e[1]["id"] for e in events}) - 1
    assert error is not None
    assert "refused" in error


def test_a_lost_lease_keeps_only_that_event_out(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [e for e in stream(8) if e[0] == "interaction.started"][:6]
    _store(runtime, events)
    stolen = {"done": False}
    real = Worker._interpret

    def interpret(self: Worker, item: inbox.Claimed) -> Any:
        if not stolen["done"]:  # another worker took over k-2 meanwhile
            stolen["done"] = True
            with transaction(runtime.sessions) as session:
                session.execute(
                    update(InboxEvent)
                    .where(InboxEvent.idempotency_key == "k-2")
                    .values(locked_by="w2")
                )
        result: Change | Any = real(self, item)
        return result

    monkeypatch.setattr(Worker, "_interpret", interpret)
    Worker(runtime, worker_id="w1").run_once()
    statuses = _statuses(runtime)
    assert statuses.pop("k-2") == "pending"  # w2 holds it and will apply it
    assert set(statuses.values()) == {"done"}
    with runtime.read_sessions() as session:
        refs = set(session.scalars(select(Interaction.source_ref)))
    assert f"interaction:{events[2][1]['id']}" not in refs
