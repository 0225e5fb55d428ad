"""Webhooks in: the sandbox's own sender (signed by HubSpot's SDK) and hand-built
batches through the hub's intake and worker, hydrated by batch reads."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from hs_helpers import SECRET, connector, drain, event, hs_runtime, inbox_count, post_events
from sqlalchemy import select

from connectors.hubspot.sandbox import HubSpotSandbox
from hub.app import create_app
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer
from hub.store.models import Contact, InboxEvent, Interaction, SourceRecord


@pytest.fixture
def hub(
    make_runtime: Callable[..., Runtime], sandbox: HubSpotSandbox, server: RunningServer
) -> Runtime:
    return hs_runtime(make_runtime, sandbox, server.url)


def _record(runtime: Runtime, object_type: str, external_id: str) -> SourceRecord | None:
    with runtime.read_sessions() as session:
        return session.scalar(
            select(SourceRecord).where(
                SourceRecord.connector == "hs",
                SourceRecord.object_type == object_type,
                SourceRecord.external_id == external_id,
            )
        )


def _statuses(runtime: Runtime) -> dict[str, str]:
    with runtime.read_sessions() as session:
        return {
            f"{e.event_type}:{e.idempotency_key}": f"{e.status} {e.last_error or ''}".strip()
            for e in session.scalars(select(InboxEvent))
        }


def _batch_reads(sandbox: HubSpotSandbox, api: str = "contacts") -> int:
    return sum(
        1
        for method, path in sandbox.request_log
        if method == "POST" and path.startswith(f"/crm/v3/objects/{api}/batch/read")
    )


def test_sandbox_webhooks_create_update_delete_and_merge_contacts(
    hub: Runtime, sandbox: HubSpotSandbox, serve_receiver: Callable[[Any], RunningServer]
) -> None:
    receiver = serve_receiver(create_app(runtime=hub))
    sandbox.configure_webhooks(f"{receiver.url}/webhooks/hs", SECRET, retry_delays=())
    ada = sandbox.create(
        "contacts",
        email="ada@example.com",
        firstname="Ada",
        lastname="Lovelace",
        phone="+14155550142",
    )
    dup = sandbox.create("contacts", email="ada.l@example.com", firstname="Ada")
    gone = sandbox.create("contacts", email="gone@example.com", firstname="Gone")
    company = sandbox.create("companies", name="Analytical Engines", domain="engines.example")
    assert sandbox.flush_webhooks() > 0
    assert all(d.status == 200 for d in sandbox.webhooks.deliveries)
    drain(hub)
    assert _batch_reads(sandbox) == 1  # one batch read for the whole delivered batch
    assert _record(hub, "contact", str(ada.id)) is not None
    assert _record(hub, "company", str(company.id)) is not None

    sandbox.update("contacts", ada.id, lastname="King")
    sandbox.archive("contacts", gone.id)
    sandbox.merge("contacts", ada.id, dup.id)
    sandbox.flush_webhooks()
    drain(hub)
    assert {s.split()[0] for s in _statuses(hub).values()} <= {"done", "ignored"}, _statuses(hub)
    assert _record(hub, "contact", str(gone.id)).deleted_at is not None
    context = connector(hub).context.contact_context("contact", str(dup.id))
    assert context is not None
    assert context["last_name"] == "King"
    merged_into = connector(hub).context.contact_context("contact", str(ada.id))
    assert merged_into is not None
    assert context["id"] == merged_into["id"]


def test_redelivered_events_are_stored_once(hub: Runtime, sandbox: HubSpotSandbox) -> None:
    client = create_app(runtime=hub).test_client()
    batch = [event("contact.creation", 101, event_id=5, occurred_at=1_700_000_000_000)]
    assert post_events(client, batch).status_code == 200
    again = post_events(client, [{**batch[0], "attemptNumber": 1}])
    assert again.status_code == 200
    assert again.get_json()["duplicates"] == 1
    assert inbox_count(hub) == 1


def test_engagement_and_association_events_rehydrate_the_timeline(
    hub: Runtime, sandbox: HubSpotSandbox
) -> None:
    client = create_app(runtime=hub).test_client()
    call = sandbox.create(
        "calls",
        hs_timestamp="2026-01-01T10:00:00.000Z",
        hs_call_title="Billing question",
        hs_call_direction="INBOUND",
    )
    sandbox.store.associate("calls", call.id, "contacts", 101, [194])
    batch = [
        event("contact.creation", 101, event_id=1),
        event("object.creation", call.id, event_id=2, objectTypeId="0-48"),
        event(
            "contact.associationChange",
            102,
            event_id=3,
            associationType="CONTACT_TO_CALL",
            fromObjectId=102,
            toObjectId=call.id,
            associationRemoved=False,
        ),
    ]
    assert post_events(client, batch).status_code == 200
    drain(hub)
    with hub.read_sessions() as session:
        interaction = session.scalar(
            select(Interaction).where(Interaction.source_ref == f"call:{call.id}")
        )
        assert interaction is not None
        assert interaction.channel == "voice"
        assert interaction.summary == "Billing question"
        contact = session.get(Contact, interaction.contact_id)
    linked = connector(hub).context.contact_context("contact", "101")
    assert contact is not None
    assert linked is not None
    assert linked["id"] == contact.id


def test_company_and_property_change_events(hub: Runtime, sandbox: HubSpotSandbox) -> None:
    client = create_app(runtime=hub).test_client()
    company = next(iter(sandbox.store.records["companies"].values()))
    batch = [
        event(
            "company.propertyChange", company.id, event_id=i, propertyName="name", propertyValue="x"
        )
        for i in range(3)
    ]
    batch += [
        event(
            "contact.propertyChange",
            101 + i,
            event_id=10 + i,
            propertyName="email",
            propertyValue="REDACTED",
        )
        for i in range(5)
    ]
    assert post_events(client, batch).status_code == 200
    drain(hub)
    assert _batch_reads(sandbox, "companies") == 1
    assert _batch_reads(sandbox) == 1
    assert _record(hub, "company", str(company.id)) is not None
    assert all(_record(hub, "contact", str(101 + i)) for i in range(5))


def test_unknown_event_types_and_other_portals_are_ignored(hub: Runtime) -> None:
    client = create_app(runtime=hub).test_client()
    batch = [
        event("deal.creation", 5, event_id=1),
        event("contact.creation", 101, event_id=2, portal_id=999),
    ]
    assert post_events(client, batch).status_code == 200
    drain(hub)
    assert {s.split()[0] for s in _statuses(hub).values()} == {"ignored"}


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("stale timestamp", {"timestamp_ms": int(time.time() * 1000) - 6 * 60 * 1000}),
        ("wrong signature", {"secret": "not-the-app-secret"}),
    ],
)
def test_bad_signatures_are_401_and_store_nothing(
    hub: Runtime, case: str, kwargs: dict[str, Any]
) -> None:
    client = create_app(runtime=hub).test_client()
    answer = post_events(client, [event("contact.creation", 101)], **kwargs)
    assert answer.status_code == 401, case
    assert inbox_count(hub) == 0


def test_signature_for_another_url_is_401(hub: Runtime) -> None:
    from hs_helpers import signed

    client = create_app(runtime=hub).test_client()
    body = json.dumps([event("contact.creation", 101)])
    headers = signed("https://evil.example/webhooks/hs", body)
    assert client.post("/webhooks/hs", data=body, headers=headers).status_code == 401
    headers = {"X-HubSpot-Signature-Version": "v1", "X-HubSpot-Signature": "0" * 64}
    assert client.post("/webhooks/hs", data=body, headers=headers).status_code == 401
    assert inbox_count(hub) == 0


@pytest.mark.parametrize("body", [b"{}", b"not json", b'[{"eventId": "x"}]', b"[1]"])
def test_malformed_batches_are_400(hub: Runtime, body: bytes) -> None:
    from hs_helpers import signed

    client = create_app(runtime=hub).test_client()
    response = client.post(
        "/webhooks/hs", data=body, headers=signed("http://localhost/webhooks/hs", body)
    )
    assert response.status_code == 400
    assert inbox_count(hub) == 0
