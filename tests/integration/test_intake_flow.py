"""Given a signed Standard Webhooks event, when it is posted, then it is verified,
stored once, processed into a contact and an interaction, and readable via the API."""

from __future__ import annotations

from typing import Any

from helpers.flow import AUTH
from helpers.signing import contact_event, interaction_event, signed
from sqlalchemy import func, select

from hub.runtime import Runtime
from hub.store.models import InboxEvent, RawDelivery
from hub.worker import Worker


def post(client: Any, payload: Any, **kwargs: Any) -> Any:
    body, headers = signed(payload, **kwargs)
    return client.post("/webhooks/events", data=body, headers=headers)


def count(runtime: Runtime, model: Any) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def drain(runtime: Runtime) -> None:
    worker = Worker(runtime, worker_id="test-worker")
    while worker.run_once():
        pass


def test_signed_event_becomes_contact_and_interaction(client: Any, runtime: Runtime) -> None:
    assert post(client, contact_event()).status_code == 200
    assert post(client, interaction_event()).status_code == 200
    drain(runtime)

    found = client.get("/api/v1/contacts?phone=415-555-0142", headers=AUTH)
    assert found.status_code == 200
    contact = found.get_json()["results"][0]
    assert contact["display_name"] == "Ada Lovelace"
    assert {"kind": "email", "value": "ada@example.com"} in contact["identifiers"]
    assert {"kind": "phone", "value": "+14155550142"} in contact["identifiers"]
    assert contact["identities"][0]["external_id"] == "c-1"

    timeline = client.get(f"/api/v1/contacts/{contact['id']}/interactions", headers=AUTH)
    [item] = timeline.get_json()["results"]
    assert (item["channel"], item["status"], item["agent"]) == ("voice", "ringing", "agent-7")


def test_duplicate_delivery_is_stored_once(client: Any, runtime: Runtime) -> None:
    payload = contact_event()
    first = post(client, payload, msg_id="msg_same")
    second = post(client, payload, msg_id="msg_same")
    assert first.get_json() == {"accepted": 1, "duplicates": 0}
    assert second.status_code == 200
    assert second.get_json() == {"accepted": 0, "duplicates": 1}
    assert count(runtime, InboxEvent) == 1
    assert count(runtime, RawDelivery) == 1
