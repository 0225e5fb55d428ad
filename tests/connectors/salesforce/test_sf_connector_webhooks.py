"""Webhooks through the hub: Outbound Messages and relayed CDC, good and bad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sf_helpers as h
from sf_clock import FakeClock
from sqlalchemy import func, select

from connectors.salesforce.inbound import ACK
from connectors.salesforce.sandbox import SalesforceSandbox
from hub.app import create_app
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer
from hub.store.models import Contact, SourceRecord
from hub.worker import Worker

OM_URL = f"/webhooks/sf/outbound-messages/{h.OM_TOKEN}"
SOAP = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}


@pytest.fixture
def hub(
    make_runtime: Callable[..., Runtime],
    sandbox: SalesforceSandbox,
    server: RunningServer,
    clock: FakeClock,
) -> tuple[Runtime, Any]:
    runtime, _ = h.runtime(make_runtime, sandbox, server.url, clock)
    return runtime, create_app(runtime=runtime).test_client()


def _record(runtime: Runtime, external_id: str) -> tuple[SourceRecord | None, Contact | None]:
    with runtime.read_sessions() as session:
        record = session.scalar(select(SourceRecord).where(SourceRecord.external_id == external_id))
        contact = session.get(Contact, record.contact_id) if record else None
        return record, contact


def _events(runtime: Runtime) -> int:
    from hub.store.models import InboxEvent

    with runtime.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def test_outbound_message_is_acked_with_soap_and_hydrated_once_per_batch(
    hub: tuple[Runtime, Any], sandbox: SalesforceSandbox
) -> None:
    runtime, client = hub
    first, second = sandbox.records("Contact")[:2]
    sandbox.update_record("Contact", first["Id"], {"Email": "ada@example.com"})
    body = h.outbound_message(
        sandbox.credentials.org_id,
        [
            ("04l7F000008aeAyQAI", "Contact", {"Id": first["Id"], "Email": "ada@example.com"}),
            ("04l7F000008aeAzQAI", "Contact", {"Id": second["Id"], "LastName": "Partial"}),
        ],
    )
    response = client.post(OM_URL, data=body, headers=SOAP)
    assert response.status_code == 200
    assert response.data == ACK
    assert response.mimetype == "text/xml"
    queries: list[str] = []
    sandbox.before_request(lambda: queries.append("q"), path_contains="/query", times=10)
    assert Worker(runtime).run_once() == 2
    assert len(queries) == 1  # both notifications hydrated by one SELECT … WHERE Id IN
    record, contact = _record(runtime, first["Id"])
    assert record is not None
    assert contact is not None
    assert contact.last_name == first["LastName"]  # the full record, not the partial one
    again = client.post(OM_URL, data=body, headers=SOAP)  # Salesforce retries: deduplicated
    assert again.status_code == 200
    assert again.data == ACK
    assert _events(runtime) == 2


@pytest.mark.parametrize(
    ("url", "body", "status"),
    [
        ("/webhooks/sf/outbound-messages/wrong-token-0123456789abcdef", None, 401),
        ("/webhooks/sf/outbound-messages", None, 401),
        (OM_URL, "wrong-org", 401),
        (OM_URL, b"<soapenv:Envelope><unclosed>", 400),
        (OM_URL, b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', 400),
        (OM_URL, b"<x/>", 400),
    ],
    ids=["bad-token", "no-token", "wrong-org", "malformed-xml", "dtd", "not-soap"],
)
def test_bad_outbound_messages_get_a_clear_4xx_and_store_nothing(
    hub: tuple[Runtime, Any], sandbox: SalesforceSandbox, url: str, body: Any, status: int
) -> None:
    runtime, client = hub
    contact = sandbox.records("Contact")[0]["Id"]
    org = "00D000000000002AAA" if body == "wrong-org" else sandbox.credentials.org_id
    if body is None or body == "wrong-org":
        body = h.outbound_message(org, [("04l7F000008aeAyQAI", "Contact", {"Id": contact})])
    response = client.post(url, data=body, headers=SOAP)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert _events(runtime) == 0


def test_more_than_100_notifications_are_refused(
    hub: tuple[Runtime, Any], sandbox: SalesforceSandbox
) -> None:
    runtime, client = hub
    contact = sandbox.records("Contact")[0]["Id"]
    items = [(f"04l7F000008a{i:04d}QAI"[:18], "Contact", {"Id": contact}) for i in range(101)]
    response = client.post(
        OM_URL, data=h.outbound_message(sandbox.credentials.org_id, items), headers=SOAP
    )
    assert response.status_code == 400
    assert "at most 100" in response.get_json()["detail"]
    assert _events(runtime) == 0


def test_cdc_update_is_hydrated_and_create_with_all_fields_is_not(
    hub: tuple[Runtime, Any], sandbox: SalesforceSandbox
) -> None:
    runtime, client = hub
    lead = sandbox.records("Lead")[0]
    sandbox.update_record("Lead", lead["Id"], {"Company": "Hydrated Co"})
    body = h.cdc_body("Lead", "UPDATE", [lead["Id"]], Company="Hydrated Co")
    response = client.post(
        "/webhooks/sf/events", data=body, headers=h.signed_headers(body, "msg_update_1")
    )
    assert response.status_code == 200, response.get_json()
    assert Worker(runtime).run_once() == 1
    _, contact = _record(runtime, lead["Id"])
    assert contact is not None
    assert contact.company == "Hydrated Co"
    assert contact.first_name == lead["FirstName"]  # unchanged fields came from the API


def test_cdc_delete_and_merge(hub: tuple[Runtime, Any], sandbox: SalesforceSandbox) -> None:
    runtime, client = hub
    a, b, c = (r["Id"] for r in sandbox.records("Contact")[:3])
    create = h.cdc_body("Contact", "GAP_CREATE", [a, b, c])
    client.post("/webhooks/sf/events", data=create, headers=h.signed_headers(create, "m1"))
    delete = h.cdc_body("Contact", "DELETE", [a])
    merge = h.cdc_body("Contact", "DELETE", [c], MasterRecordId=b)
    for index, body in enumerate((delete, merge)):
        response = client.post(
            "/webhooks/sf/events", data=body, headers=h.signed_headers(body, f"m{index + 2}")
        )
        assert response.status_code == 200
    while Worker(runtime).run_once():
        pass
    deleted, _ = _record(runtime, a)
    merged, loser = _record(runtime, c)
    _, survivor = _record(runtime, b)
    assert deleted is not None
    assert deleted.deleted_at is not None
    assert merged is not None
    assert merged.snapshot.get("_merged_into") == b
    assert loser is not None
    assert survivor is not None
    # A recorded merge (hub/identity/merge.py) moves the merged record to the survivor;
    # the contact it lived on follows the survivor and the merge can be undone.
    assert loser.id == survivor.id
    with runtime.read_sessions() as session:
        from hub.store.models import Merge

        merge = session.scalars(select(Merge)).one()
        old = session.get(Contact, merge.merged_id)
        assert (merge.rule, merge.survivor_id) == ("source_merge", survivor.id)
        assert old is not None
        assert old.merged_into_id == survivor.id


def test_cdc_with_a_bad_signature_or_shape_is_refused(
    hub: tuple[Runtime, Any], sandbox: SalesforceSandbox
) -> None:
    runtime, client = hub
    body = h.cdc_body("Contact", "UPDATE", [sandbox.records("Contact")[0]["Id"]])
    headers = h.signed_headers(body, "m1", secret="whsec_" + "A" * 43 + "=")
    assert client.post("/webhooks/sf/events", data=body, headers=headers).status_code == 401
    bad = b'{"payload": {"ChangeEventHeader": {"entityName": "Contact", "changeType": "NOPE"}}}'
    response = client.post("/webhooks/sf/events", data=bad, headers=h.signed_headers(bad, "m2"))
    assert response.status_code == 400
    assert "changeType" in response.get_json()["detail"]
    assert _events(runtime) == 0


def test_gap_overflow_and_platform_events_are_kept_but_ignored(
    hub: tuple[Runtime, Any],
) -> None:
    runtime, client = hub
    overflow = h.cdc_body("Contact", "GAP_OVERFLOW", ["003*"])
    event = b'{"schema": "x", "payload": {"Printer_Model__c": "XZO-5"}, "event": {"replayId": 9}}'
    for index, body in enumerate((overflow, event)):
        response = client.post(
            "/webhooks/sf/events", data=body, headers=h.signed_headers(body, f"m{index}")
        )
        assert response.status_code == 200
    assert Worker(runtime).run_once() == 2
    from hub.store.models import InboxEvent

    with runtime.read_sessions() as session:
        statuses = sorted(session.scalars(select(InboxEvent.status)))
    assert statuses == ["ignored", "ignored"]
