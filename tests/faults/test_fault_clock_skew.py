"""Given a sender whose clock is off, when it signs a webhook 299 s from our time it is
accepted, and at 301 s (either way) it is refused with 401 and nothing is stored: for
every sender that signs a timestamp (each window is five minutes)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from faults.channel_senders import BY_ID, channels_runtime, send, stored
from helpers.signing import contact_event

from connectors.zendesk.simulator import template_body
from hub.app import create_app
from hub.runtime import Runtime


def hubspot_body() -> bytes:
    event = {
        "eventId": uuid.uuid4().int % 10**9,
        "subscriptionId": 77,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.creation",
        "attemptNumber": 0,
        "objectId": 501,
        "changeSource": "CRM_UI",
    }
    return json.dumps([event]).encode()


def cdc_body() -> bytes:
    """A Change Data Capture event as a relay forwards it (CometD ``data``)."""
    header = {
        "entityName": "Contact",
        "recordIds": ["003000000000001AAA"],
        "changeType": "UPDATE",
        "changeOrigin": "com/salesforce/api/rest/59.0",
        "transactionKey": f"tx-{uuid.uuid4().hex}",
        "sequenceNumber": 1,
        "commitTimestamp": int(time.time() * 1000),
        "commitNumber": 1,
        "commitUser": "005000000000001AAA",
        "nulledFields": [],
        "diffFields": [],
        "changedFields": ["FirstName"],
    }
    payload = {"ChangeEventHeader": header, "FirstName": "Ada"}
    return json.dumps({"schema": "s1", "payload": payload, "event": {"replayId": 1}}).encode()


def mailgun_body() -> bytes:
    fields = [
        ("recipient", "support@acme.test"),
        ("sender", "ada@example.com"),
        ("from", "Ada Lovelace <ada@example.com>"),
        ("subject", "Where is my order?"),
        ("body-plain", "Hello"),
        ("stripped-text", "Hello"),
        ("Message-Id", f"<{uuid.uuid4().hex}@mail.example.com>"),
    ]
    return urlencode(fields).encode()


def zendesk_body() -> bytes:
    ada = {"id": "9001", "name": "Ada", "email": "ada@example.com", "phone": "+14155550142"}
    return json.dumps(
        template_body("ticket.created", uuid.uuid4().int % 10**6, requester=ada)
    ).encode()


#: A valid body per timestamped endpoint, so that only the clock decides.
VALID: dict[str, Callable[[], bytes]] = {
    "standard_webhooks": lambda: json.dumps(contact_event(f"c-{uuid.uuid4().hex[:8]}")).encode(),
    "salesforce-events": lambda: cdc_body(),
    "hubspot": hubspot_body,
    "hubspot-app-card": lambda: b"501",
    "zendesk": zendesk_body,
    "email-mailgun": mailgun_body,
}
CASES = [(-299, True), (-301, False), (299, True), (301, False)]


def whole_second_now() -> int:
    """Now, truncated to the second, early in that second: senders send whole seconds,
    so a stamp 299 s old must not age past 300 s while the request is in flight."""
    if time.time() % 1 > 0.5:
        time.sleep(1.02 - time.time() % 1)
    return int(time.time())


@pytest.mark.parametrize("endpoint", sorted(VALID))
def test_signature_window_edges_accept_299s_and_refuse_301s_either_way(
    endpoint: str, make_runtime: Callable[..., Runtime]
) -> None:
    assert all(BY_ID[e].timestamped for e in VALID)
    assert {e.id for e in BY_ID.values() if e.timestamped} == set(VALID)
    runtime = channels_runtime(make_runtime)
    client = create_app(runtime=runtime).test_client()
    outcomes: dict[int, Any] = {}
    for skew, accepted in CASES:
        before = stored(runtime)
        response = send(client, BY_ID[endpoint].sign(VALID[endpoint](), whole_second_now() + skew))
        outcomes[skew] = response.status_code
        if accepted:
            assert response.status_code == 200, (skew, response.get_json())
        else:
            assert response.status_code == 401, (skew, response.data)
            assert stored(runtime) == before, f"a request signed {skew} s off was stored"
    assert outcomes == {-299: 200, -301: 401, 299: 200, 301: 401}
