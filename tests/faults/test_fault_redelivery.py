"""Given the same webhook delivered twice, late, or replayed by an attacker, then it is
stored once, the newest version of a record wins whatever the order, and a captured
request replayed after its window is refused."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from helpers.flow import count, drain
from helpers.signing import contact_event, interaction_event, signed
from sqlalchemy import select

from hub.app import create_app
from hub.runtime import Runtime
from hub.store.models import Contact, InboxEvent, Interaction, Pop, RawDelivery, SourceRecord


def post_raw(client: Any, body: bytes, headers: dict[str, str]) -> Any:
    return client.post("/webhooks/events", data=body, headers=headers)


def test_a_redelivered_webhook_is_acknowledged_and_stored_once(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    client = create_app(runtime=runtime).test_client()
    payload = interaction_event("call-1")
    first = post_raw(client, *signed(payload, msg_id="msg_same"))
    again = post_raw(client, *signed(payload, msg_id="msg_same"))  # re-signed, as a retry is
    assert (first.status_code, first.get_json()) == (200, {"accepted": 1, "duplicates": 0})
    assert (again.status_code, again.get_json()) == (200, {"accepted": 0, "duplicates": 1})
    drain(runtime)
    assert count(runtime, InboxEvent) == 1
    assert count(runtime, RawDelivery) == 1
    assert count(runtime, Interaction) == 1
    assert count(runtime, Pop) == 1


def test_a_duplicate_after_processing_changes_nothing(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    client = create_app(runtime=runtime).test_client()
    payload = interaction_event("call-2")
    assert post_raw(client, *signed(payload, msg_id="msg_late_dup")).status_code == 200
    drain(runtime)
    assert post_raw(client, *signed(payload, msg_id="msg_late_dup")).status_code == 200
    assert drain(runtime) == 0
    assert count(runtime, Pop) == 1
    assert count(runtime, InboxEvent, InboxEvent.status == "done") == 1


def test_out_of_order_versions_leave_the_newest_whatever_the_arrival_order(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    client = create_app(runtime=runtime).test_client()
    versions = [
        ("2026-11-01T10:00:00Z", "Ada"),
        ("2026-11-01T12:00:00Z", "Augusta"),  # the newest
        ("2026-11-01T11:00:00Z", "Countess"),
    ]
    for updated_at, first_name in [versions[1], versions[2], versions[0]]:  # newest first
        event = contact_event("c-7", first_name=first_name, updated_at=updated_at)
        assert post_raw(client, *signed(event)).status_code == 200
        drain(runtime)  # each one applied on its own, in this (wrong) order
    with runtime.read_sessions() as session:
        record = session.scalar(select(SourceRecord).where(SourceRecord.external_id == "c-7"))
        assert record is not None
        contact = session.get(Contact, record.contact_id)
        assert contact is not None
        assert contact.first_name == "Augusta"
    assert count(runtime, SourceRecord) == 1


def test_a_late_interaction_update_never_rewinds_its_status(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    client = create_app(runtime=runtime).test_client()
    ended = interaction_event("call-9", status="completed")
    ended["type"] = "interaction.ended"
    ended["timestamp"] = "2026-11-01T10:20:00Z"
    ended["data"]["updated_at"] = "2026-11-01T10:20:00Z"
    started = interaction_event("call-9", updated_at="2026-11-01T10:05:00Z")
    for event in (ended, started):  # the end overtook the start
        assert post_raw(client, *signed(event)).status_code == 200
    drain(runtime)
    with runtime.read_sessions() as session:
        [call] = session.scalars(select(Interaction)).all()
    assert call.status == "completed"


def test_a_captured_request_replayed_after_its_window_is_refused(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    client = create_app(runtime=runtime).test_client()
    body, headers = signed(contact_event("c-8"), skew=timedelta(minutes=-6))
    replay = post_raw(client, body, headers)
    assert replay.status_code == 401
    assert count(runtime, InboxEvent) == 0
    assert count(runtime, RawDelivery) == 0


def test_a_replayed_signature_on_another_body_is_refused(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    client = create_app(runtime=runtime).test_client()
    body, headers = signed(contact_event("c-1"))
    assert post_raw(client, body, headers).status_code == 200
    forged = json.dumps(contact_event("c-1", first_name="Mallory")).encode()
    assert post_raw(client, forged, headers).status_code == 401
    assert count(runtime, InboxEvent) == 1
