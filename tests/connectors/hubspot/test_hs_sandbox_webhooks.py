"""Webhook delivery: batches, v1 + v3 signatures (checked with HubSpot's SDK), retries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask, request
from hubspot.utils.signature import Signature

from connectors.hubspot.sandbox import HubSpotSandbox, ManualClock, Subscription
from hub.sandbox_server import RunningServer

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"


@dataclass
class Receiver:
    """A local endpoint that records raw deliveries and answers scripted statuses."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        return [e for r in self.received if r["status"] < 300 for e in json.loads(r["body"])]


@pytest.fixture
def receiver(serve_receiver: Callable[[Any], RunningServer]) -> Receiver:
    state = Receiver()
    app = Flask("receiver")

    @app.post("/hooks/hubspot")
    def hook() -> tuple[str, int]:
        status = state.statuses.pop(0) if state.statuses else 204
        state.received.append({"body": request.get_data(), "headers": dict(request.headers),
                               "url": request.url, "status": status})
        return "", status

    state.url = serve_receiver(app).url + "/hooks/hubspot"
    return state


@pytest.fixture
def wired(make_sandbox: Callable[..., HubSpotSandbox], receiver: Receiver) -> HubSpotSandbox:
    sandbox = make_sandbox(seed=2, clock=ManualClock())
    sandbox.configure_webhooks(receiver.url, SECRET, retry_delays=(0.01, 0.01, 0.01))
    return sandbox


def test_creation_and_property_changes_are_signed_v1_and_v3(wired: HubSpotSandbox,
                                                            receiver: Receiver) -> None:
    record = wired.create("contacts", email="new@example.com", firstname="New")
    wired.update("contacts", record.id, firstname="Renamed")
    assert wired.flush_webhooks() == 4
    delivery = receiver.received[0]
    headers, body = delivery["headers"], delivery["body"].decode()
    assert headers["X-Hubspot-Signature-Version"] == "v1"
    assert Signature.is_valid(headers["X-Hubspot-Signature"], SECRET, body,
                              signature_version="v1")
    assert Signature.is_valid(headers["X-Hubspot-Signature-V3"], SECRET, body,
                              http_uri=delivery["url"], signature_version="v3",
                              timestamp=headers["X-Hubspot-Request-Timestamp"])
    assert len(headers["X-Hubspot-Request-Timestamp"]) == 13  # milliseconds
    events = receiver.events()
    assert [e["subscriptionType"] for e in events] == [
        "contact.creation", "contact.propertyChange", "contact.propertyChange",
        "contact.propertyChange"]
    creation = events[0]
    assert creation["objectId"] == record.id
    assert creation["portalId"] == wired.portal_id
    assert creation["attemptNumber"] == 0
    assert creation["occurredAt"] == 1_735_689_600_000
    renamed = events[-1]
    assert (renamed["propertyName"], renamed["propertyValue"]) == ("firstname", "Renamed")


def test_tampered_body_fails_v3_verification(wired: HubSpotSandbox, receiver: Receiver) -> None:
    wired.create("contacts", email="a@example.com")
    wired.flush_webhooks()
    delivery = receiver.received[0]
    headers = delivery["headers"]
    assert not Signature.is_valid(headers["X-Hubspot-Signature-V3"], SECRET,
                                  delivery["body"].decode() + " ", http_uri=delivery["url"],
                                  signature_version="v3",
                                  timestamp=headers["X-Hubspot-Request-Timestamp"])


def test_merge_event_carries_merge_fields(wired: HubSpotSandbox, receiver: Receiver) -> None:
    wired.merge("contacts", 101, 102)
    wired.flush_webhooks()
    (event,) = receiver.events()
    assert event["subscriptionType"] == "contact.merge"
    assert event["primaryObjectId"] == 101
    assert event["mergedObjectIds"] == [102]
    assert event["newObjectId"] == 101
    assert isinstance(event["numberOfPropertiesMoved"], int)


def test_deletion_event_via_the_api(wired: HubSpotSandbox, receiver: Receiver,
                                    serve: Callable[[HubSpotSandbox], RunningServer]) -> None:
    import hubspot

    client = hubspot.Client.create(access_token=wired.private_app_token, host=serve(wired).url)
    client.crm.contacts.basic_api.archive("110")
    wired.flush_webhooks()
    (event,) = receiver.events()
    assert (event["subscriptionType"], event["objectId"], event["changeSource"]) == (
        "contact.deletion", 110, "API")


def test_failed_batches_are_retried_with_incrementing_attempt_number(
        wired: HubSpotSandbox, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    wired.archive("contacts", 101)
    wired.flush_webhooks()
    attempts = [json.loads(r["body"])[0]["attemptNumber"] for r in receiver.received]
    assert attempts == [0, 1, 2]
    assert [r["status"] for r in receiver.received] == [500, 503, 204]


def test_gives_up_after_the_schedule_is_exhausted(wired: HubSpotSandbox,
                                                  receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    wired.archive("contacts", 101)
    assert wired.flush_webhooks() == 0
    assert len(receiver.received) == 4  # first try + three retries
    assert wired.webhooks is not None
    assert len(wired.webhooks.gave_up) == 1


def test_batches_hold_at_most_100_events(wired: HubSpotSandbox, receiver: Receiver) -> None:
    for contact_id in range(101, 271):
        wired.archive("contacts", contact_id)
    wired.flush_webhooks()
    sizes = [len(json.loads(r["body"])) for r in receiver.received]
    assert sizes == [100, 70]


def test_property_subscription_filter(make_sandbox: Callable[..., HubSpotSandbox],
                                      receiver: Receiver) -> None:
    sandbox = make_sandbox(seed=2)
    sandbox.configure_webhooks(receiver.url, SECRET, subscriptions=(
        Subscription(7, "contact.propertyChange", "email"),))
    sandbox.update("contacts", 101, firstname="Ignored", email="kept@example.com")
    sandbox.flush_webhooks()
    assert [(e["subscriptionId"], e["propertyName"]) for e in receiver.events()] == [
        (7, "email")]


def test_engagements_do_not_fire_legacy_webhooks(wired: HubSpotSandbox,
                                                 receiver: Receiver) -> None:
    wired.create("notes", hs_timestamp="1704067200000", hs_note_body="quiet")
    assert wired.flush_webhooks() == 0
    assert receiver.received == []


def test_background_mode_delivers_without_flush(wired: HubSpotSandbox,
                                                receiver: Receiver) -> None:
    assert wired.webhooks is not None
    wired.webhooks.start()
    try:
        wired.archive("contacts", 101)
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        wired.webhooks.stop()
    assert receiver.events()[0]["subscriptionType"] == "contact.deletion"
