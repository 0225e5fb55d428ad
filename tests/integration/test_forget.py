"""Erasure: forgetting a person removes them from the store, the inbox and the outbox,
and says which connected systems still hold them."""

from __future__ import annotations

from typing import Any

from helpers.flow import AUTH, count, drain, post
from helpers.signing import contact_event, interaction_event
from sqlalchemy import select

from hub.privacy import forget_contact
from hub.store.db import transaction
from hub.store.models import (
    AuditEntry,
    Contact,
    Delivery,
    Identifier,
    InboxEvent,
    Interaction,
    RawDelivery,
)


def test_forget_erases_the_person_everywhere_and_reports_the_sources(
    client: Any, runtime: Any
) -> None:
    post(client, contact_event("c-1"))
    post(client, interaction_event("call-1", agent="agent-7"))  # also a pop → outbox
    post(
        client,
        contact_event(
            "c-2", first_name="Grace", emails=["grace@example.com"], phones=["+1 212 555 0199"]
        ),
    )
    drain(runtime)
    ada = client.get("/api/v1/contacts?email=ada@example.com", headers=AUTH).get_json()
    ada_id = ada["results"][0]["id"]
    with transaction(runtime.sessions) as session:
        report = forget_contact(session, ada_id, actor="cli")
    assert report is not None
    assert report.still_in_sources == [
        {"connector": "events", "object_type": "contact", "external_id": "c-1"}
    ]
    assert client.get("/api/v1/contacts?email=ada@example.com", headers=AUTH).status_code == 404
    assert count(runtime, Interaction) == 0
    assert count(runtime, Delivery) == 0
    assert count(runtime, InboxEvent) == 1  # only Grace's event is left
    assert count(runtime, RawDelivery) == 1
    assert count(runtime, Contact) == 1
    with runtime.read_sessions() as session:
        values = {i.value for i in session.scalars(select(Identifier))}
        audit = session.scalars(select(AuditEntry)).one()
    assert "ada@example.com" not in values
    assert "+14155550142" not in values
    assert audit.action == "contact.forgotten"
    assert "ada" not in str(audit.details).lower()
