"""Given events in the inbox, when workers process them, then the store converges to
the same state whatever the order, duplicates or replays."""

from __future__ import annotations

from typing import Any

from helpers.flow import AUTH, count, drain, post
from helpers.signing import contact_event, interaction_event
from sqlalchemy import select

from connectors.standard_webhooks.connector import StandardWebhooksConnector
from hub import inbox
from hub.plugin import Connector, InboundEvent
from hub.registry import register_connector_type
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import Contact, InboxEvent, Interaction, SourceRecord


def only_contact(client: Any, **query: str) -> dict[str, Any]:
    response = client.get("/api/v1/contacts", query_string=query, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    [contact] = response.get_json()["results"]
    return contact


def test_older_update_arriving_late_never_overwrites_newer(client: Any, runtime: Runtime) -> None:
    newer = contact_event(
        first_name="Ada", company="Analytical Engines", updated_at="2026-11-02T00:00:00Z"
    )
    older = contact_event(first_name="Augusta", company="Old Co", updated_at="2026-11-01T00:00:00Z")
    post(client, newer)
    post(client, older)
    drain(runtime)
    contact = only_contact(client, email="ada@example.com")
    assert (contact["first_name"], contact["company"]) == ("Ada", "Analytical Engines")
    assert contact["lineage"]["company"]["at"].startswith("2026-11-02")


def test_empty_value_never_overwrites_a_known_one(client: Any, runtime: Runtime) -> None:
    post(client, contact_event(company="Analytical Engines", updated_at="2026-11-01T00:00:00Z"))
    post(client, contact_event(company="  ", updated_at="2026-11-03T00:00:00Z"))
    drain(runtime)
    assert only_contact(client, email="ada@example.com")["company"] == "Analytical Engines"


def test_replaying_processed_events_changes_nothing(client: Any, runtime: Runtime) -> None:
    post(client, contact_event())
    post(client, interaction_event())
    drain(runtime)
    before = only_contact(client, phone="+14155550142")
    with transaction(runtime.sessions) as session:
        assert inbox.replay(session, [1, 2]) == 2
    assert drain(runtime) == 2
    after = only_contact(client, phone="+14155550142")
    assert after == before
    assert count(runtime, Interaction) == 1
    assert count(runtime, Contact) == 1


def test_interaction_before_its_contact_links_to_the_same_person(
    client: Any, runtime: Runtime
) -> None:
    call = interaction_event(contact={"id": "c-9"})
    post(client, call)
    drain(runtime)
    post(client, contact_event("c-9", phones=[], emails=["late@example.com"]))
    drain(runtime)
    assert count(runtime, Contact) == 1
    contact = only_contact(client, email="late@example.com")
    timeline = client.get(f"/api/v1/contacts/{contact['id']}/interactions", headers=AUTH)
    assert len(timeline.get_json()["results"]) == 1


def test_status_updates_of_one_interaction_update_it_in_place(
    client: Any, runtime: Runtime
) -> None:
    post(client, interaction_event(status="ringing", updated_at="2026-11-01T10:05:00Z"))
    post(
        client,
        {
            **interaction_event(status="completed", updated_at="2026-11-01T10:09:00Z"),
            "type": "interaction.ended",
        },
    )
    post(client, interaction_event(status="in-progress", updated_at="2026-11-01T10:06:00Z"))
    drain(runtime)
    with runtime.sessions() as session:
        [item] = session.scalars(select(Interaction)).all()
    assert item.status == "completed"


def test_unknown_event_type_is_stored_and_marked_ignored(client: Any, runtime: Runtime) -> None:
    response = post(client, {"type": "invoice.paid", "data": {"id": "inv-1"}})
    assert response.status_code == 200
    drain(runtime)
    with runtime.sessions() as session:
        [event] = session.scalars(select(InboxEvent)).all()
    assert event.status == "ignored"
    assert "invoice.paid" in (event.last_error or "")


def test_shared_switchboard_number_never_joins_two_people(client: Any, runtime: Runtime) -> None:
    post(client, contact_event("a", emails=["a@example.com"], phones=["+1 212 555 0100"]))
    post(client, contact_event("b", emails=["b@example.com"], phones=["+1 212 555 0100"]))
    drain(runtime)
    post(client, interaction_event("call-x", contact={"phone": "+12125550100"}))
    drain(runtime)
    assert count(runtime, Contact) == 3  # a, b, and the caller we could not tell apart
    found = client.get("/api/v1/contacts?phone=212-555-0100", headers=AUTH).get_json()
    assert found["ambiguous"] is True
    post(client, interaction_event("call-y", contact={"phone": "(212) 555-0100"}))
    drain(runtime)
    assert count(runtime, Contact) == 3  # the next call from the switchboard: same stub


def test_contact_deleted_in_source_keeps_the_unified_contact(client: Any, runtime: Runtime) -> None:
    post(client, contact_event("c-1"))
    post(client, {"type": "contact.deleted", "data": {"id": "c-1"}})
    drain(runtime)
    contact = only_contact(client, email="ada@example.com")
    assert contact["identities"][0]["deleted"] is True


class ExplodingConnector(StandardWebhooksConnector):
    """Verifies like standard_webhooks but fails to interpret: exercises retries."""

    type_name = "exploding_test"
    object_types = ()

    def interpret(self, event: InboundEvent) -> Any:
        raise RuntimeError("boom while interpreting")


def test_failing_event_is_retried_then_dead_then_replayable(make_runtime: Any) -> None:
    from hub.app import create_app

    register_connector_type(ExplodingConnector)
    runtime = make_runtime(
        connectors=[
            {
                "name": "events",
                "type": "exploding_test",
                "settings": {"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
            }
        ]
    )
    client = create_app(runtime=runtime).test_client()
    assert post(client, contact_event()).status_code == 200
    import time

    for _ in range(50):  # max_attempts=3 with millisecond backoff
        drain(runtime)
        if count(runtime, InboxEvent, InboxEvent.status == "dead"):
            break
        time.sleep(0.02)
    with runtime.sessions() as session:
        [event] = session.scalars(select(InboxEvent)).all()
    assert event.status == "dead"
    assert event.attempts == 3
    assert event.last_error == "RuntimeError: boom while interpreting"
    with transaction(runtime.sessions) as session:
        assert inbox.replay(session) == 1
    with runtime.sessions() as session:
        event = session.scalars(select(InboxEvent)).one()
        assert (event.status, event.attempts) == ("pending", 0)


def test_source_record_lookup_by_connector_and_id(client: Any, runtime: Runtime) -> None:
    post(client, contact_event("crm-7"))
    drain(runtime)
    contact = only_contact(client, connector="events", object_type="contact", id="crm-7")
    assert contact["first_name"] == "Ada"
    assert count(runtime, SourceRecord) == 1


def test_connector_base_ignores_events_it_has_no_handler_for() -> None:
    class Bare(Connector):
        type_name = "bare"
        description = "nothing"
        settings_model = StandardWebhooksConnector.settings_model

    changes = Bare.interpret(Bare.__new__(Bare), InboundEvent("k", "x.y", {}))
    assert changes[0].reason == "bare has no handler for 'x.y'"  # type: ignore[union-attr]
