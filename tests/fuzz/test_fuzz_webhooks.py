"""Hypothesis against every webhook endpoint of every shipped connector: unsigned
garbage, and garbage signed with the right secret so the parsers are fuzzed too.

Whatever arrives, the answer is never a 5xx, and a refused (4xx) or unsigned request
leaves no trace in the store. Examples per endpoint and mode come from
``THREADLINE_FUZZ_EXAMPLES`` (50 in ``make test``; 10000 for a nightly run).
"""

from __future__ import annotations

import json
import os
import string
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from faults.channel_senders import BASE, ENDPOINTS, Endpoint, Request, channels_runtime, send
from faults.channel_senders import stored as stored_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.app import create_app
from hub.runtime import Runtime

EXAMPLES = int(os.environ.get("THREADLINE_FUZZ_EXAMPLES", "50"))
ON_POSTGRES = bool(os.environ.get("THREADLINE_TEST_DATABASE_URL"))
# The suite's 120 s per test is for make test's size. A nightly run is longer: on a
# slow 2-CPU machine 10,000 signed Mailgun examples took 520 s (52 ms each; they were
# cut off at 120 s before), so the limit grows with the count: 1,120 s at 10,000.
pytestmark = pytest.mark.timeout(120 + EXAMPLES // 10)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: Words the parsers look for, so generated documents get past the first checks.
KEYS = (
    "type", "data", "id", "timestamp", "updated_at", "occurred_at", "emails", "phones",
    "first_name", "channel", "status", "contact", "phone", "email", "object", "entry",
    "changes", "value", "messages", "statuses", "from", "wa_id", "text", "body",
    "subscriptionType", "objectId", "portalId", "eventId", "occurredAt", "propertyName",
    "propertyValue", "payload", "ChangeEventHeader", "entityName", "changeType",
    "recordIds", "commitTimestamp", "threadline", "event", "ticket", "requester",
    "detail", "subject", "type_", "account_id",
)  # fmt: skip
VALUES = (
    "contact.updated", "contact.deleted", "interaction.started", "interaction.ended",
    "whatsapp_business_account", "messages", "contact.creation", "contact.propertyChange",
    "CREATE", "UPDATE", "DELETE", "Contact", "Lead", "ticket.created",
    "zen:event-type:ticket.created", "+14155550142", "ada@example.com", "",
    "2026-11-01T10:00:00Z", "1700000000000",
)  # fmt: skip
FORM_KEYS = (
    "CallSid", "AccountSid", "From", "To", "CallStatus", "Direction", "MessageSid",
    "SmsSid", "Body", "NumMedia", "MessageStatus", "EventType", "TaskSid",
    "TaskAttributes", "WorkerName", "EventDescription", "Timestamp", "CallDuration",
    "recipient", "sender", "from", "subject", "body-plain", "Message-Id",
    "message-headers", "attachment-count", "In-Reply-To", "References",
)  # fmt: skip
SIGNATURE_HEADERS = (
    "webhook-id", "webhook-timestamp", "webhook-signature", "X-HubSpot-Signature",
    "X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp", "X-HubSpot-Signature-Version",
    "X-Twilio-Signature", "X-Hub-Signature-256", "X-Zendesk-Webhook-Signature",
    "X-Zendesk-Webhook-Signature-Timestamp", "Authorization", "Content-Type",
)  # fmt: skip

printable = st.text(alphabet=string.printable, max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(VALUES)
    | st.text(max_size=30)
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=25,
)
json_bodies = documents.map(lambda d: json.dumps(d).encode()) | st.binary(max_size=600)
form_bodies = st.lists(
    st.tuples(st.sampled_from(FORM_KEYS) | printable, st.sampled_from(VALUES) | st.text()),
    max_size=12,
).map(lambda pairs: urlencode(pairs).encode()) | st.binary(max_size=300)
xml_bodies = st.builds(
    lambda inner, tail: (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
        '"http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notifications xmlns='
        f'"http://soap.sforce.com/2005/09/outbound">{inner}</notifications></soapenv:Body>'
        f"</soapenv:Envelope>{tail}"
    ).encode(),
    st.lists(
        st.sampled_from(
            [
                "<OrganizationId>00D000000000001AAA</OrganizationId>",
                "<Notification><Id>04l1</Id><sObject>",
                '<sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">',
                "<sf:Id>003000000000001AAA</sf:Id>",
                "</sObject></Notification>",
                "<!DOCTYPE x [<!ENTITY e 'x'>]>",
                "&e;",
                "<sf:Phone>+1 415 555 0142</sf:Phone>",
            ]
        )
        | st.text(max_size=20),
        max_size=8,
    ).map("".join),
    st.text(max_size=10),
) | st.binary(max_size=400)
BODIES: dict[str, st.SearchStrategy[bytes]] = {
    "json": json_bodies,
    "form": form_bodies,
    "xml": xml_bodies,
    "multipart": st.text(max_size=300).map(str.encode) | st.binary(max_size=300),
    "query": st.text(max_size=40).map(str.encode),
}
headers_st = st.dictionaries(
    st.sampled_from(SIGNATURE_HEADERS),
    st.text(alphabet=string.printable.replace("\r", "").replace("\n", ""), max_size=80),
    max_size=6,
)
methods = st.sampled_from(["POST", "POST", "POST", "GET", "PUT"])


@pytest.fixture
def hub(make_runtime: Callable[..., Runtime]) -> tuple[Runtime, Any]:
    runtime = channels_runtime(make_runtime)
    return runtime, create_app(runtime=runtime).test_client()


def check(
    runtime: Runtime, client: Any, endpoint: Endpoint, request: Request, signed: bool
) -> None:
    before = stored_rows(runtime)
    response = send(client, request)
    status = response.status_code
    assert status < 500, f"{endpoint.id}: {status} {response.data[:300]!r}"
    after = stored_rows(runtime)
    if status >= 400:
        assert after == before, f"{endpoint.id}: a {status} request was stored"
    elif not signed:
        assert endpoint.answers_twiml, f"{endpoint.id}: accepted an unsigned request"
        assert after == before, f"{endpoint.id}: an unsigned request was stored"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_unsigned_garbage_is_refused_without_a_5xx_or_a_trace(
    endpoint: Endpoint, hub: tuple[Runtime, Any]
) -> None:
    runtime, client = hub
    path = endpoint.sign(b"", int(time.time())).path.split("?")[0]

    @FUZZ
    @given(body=BODIES[endpoint.kind], headers=headers_st, method=methods, query=printable)
    def fuzz(body: bytes, headers: dict[str, str], method: str, query: str) -> None:
        target = f"{path}?{query}" if query and endpoint.kind == "query" else path
        check(runtime, client, endpoint, Request(method, target, headers, body), signed=False)

    fuzz()


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
def test_signed_garbage_never_gets_a_5xx_and_a_refusal_leaves_no_trace(
    endpoint: Endpoint, hub: tuple[Runtime, Any]
) -> None:
    runtime, client = hub

    @FUZZ
    @given(body=BODIES[endpoint.kind])
    def fuzz(body: bytes) -> None:
        request = endpoint.sign(body, int(time.time()))
        check(runtime, client, endpoint, request, signed=True)

    fuzz()


def test_every_shipped_webhook_endpoint_is_fuzzed(hub: tuple[Runtime, Any]) -> None:
    """A new endpoint on a shipped connector must join the table above."""
    runtime, _ = hub
    declared = set()
    for name, connector in runtime.connectors.items():
        for endpoint in connector.inbound_endpoints():
            declared.add(f"/webhooks/{name}" + (f"/{endpoint.name}" if endpoint.name else ""))
    fuzzed = set()
    for endpoint in ENDPOINTS:
        path = endpoint.sign(b"", int(time.time())).path.split("?")[0]
        fuzzed.add(path.removesuffix("/" + path.rsplit("/", 1)[-1]) if "outbound" in path else path)
    assert declared == fuzzed, (declared - fuzzed, fuzzed - declared)
    assert BASE == "http://localhost"
