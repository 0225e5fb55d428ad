"""Given Zendesk-signed ticket webhooks (our trigger template and Zendesk's event
envelope), when they go through the hub, then each ticket is one interaction on its
requester, updated in place, and unsigned, stale or malformed requests are refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ch_helpers import BASE, channel_runtime, contact, drain, flask_send, interactions, pops, stored

from connectors.zendesk.connector import ZendeskConnector
from connectors.zendesk.simulator import ZendeskSimulator, subscription_body, template_body
from hub.registry import register_connector_type
from hub.runtime import Runtime

SECRET = "zendesk-signing-secret-0123456789"
ADA = {"id": "9001", "name": "Ada Lovelace", "email": "Ada@Example.com", "phone": "+1 415 555 0142"}

register_connector_type(ZendeskConnector)


@pytest.fixture
def hub(make_runtime: Callable[..., Runtime]) -> Runtime:
    zendesk = {"name": "zd", "type": "zendesk", "settings": {"signing_secret": SECRET}}
    return channel_runtime(make_runtime, zendesk)


def sim(runtime: Runtime, secret: str = SECRET) -> ZendeskSimulator:
    return ZendeskSimulator(secret, f"{BASE}/zd", flask_send(runtime))


def test_new_ticket_lands_on_the_requester_as_an_open_item_and_pops(hub: Runtime) -> None:
    assert (
        sim(hub).post(template_body("ticket.created", 35436, requester=ADA, assignee="Bob")).status
        == 200
    )
    drain(hub)
    [ticket] = interactions(hub)
    assert (ticket.channel, ticket.status, ticket.summary, ticket.agent) == (
        "email",
        "open",
        "Printer on fire",
        "Bob",
    )
    assert contact(hub, ticket.contact_id).display_name == "Ada Lovelace"
    [pop] = pops(hub)
    assert (pop.trigger, pop.interaction_id, pop.desk) == ("ticket.created", ticket.id, "Support")


def test_updates_change_the_same_ticket_and_a_retried_invocation_is_stored_once(
    hub: Runtime,
) -> None:
    s = sim(hub)
    created = datetime.now(UTC) - timedelta(hours=1)
    s.post(template_body("ticket.created", 7, requester=ADA, created=created))
    solved = template_body(
        "ticket.updated",
        7,
        requester=ADA,
        status="Solved",
        created=created,
        updated=created + timedelta(minutes=30),
    )
    assert s.post(solved, invocation_id="42").status == 200
    again = s.post(solved, invocation_id="42")
    assert b'"duplicates": 1' in again.body
    stale = template_body(
        "ticket.commented",
        7,
        requester=ADA,
        status="Open",
        created=created,
        updated=created + timedelta(minutes=5),
    )
    s.post(stale)  # delivered late: older than the solved update, so it changes nothing
    drain(hub)
    [ticket] = interactions(hub)
    assert ticket.status == "solved"


def test_a_messaging_ticket_is_a_chat(hub: Runtime) -> None:
    sim(hub).post(template_body("ticket.created", 8, requester=ADA, via="Native Messaging"))
    drain(hub)
    [ticket] = interactions(hub)
    assert ticket.channel == "chat"


def test_event_subscription_envelope_joins_the_requester_by_zendesk_user_id(hub: Runtime) -> None:
    s = sim(hub)
    s.post(template_body("ticket.created", 1, requester=ADA))
    assert (
        s.post(subscription_body("ticket.created", 2, 9001, channel="native_messaging")).status
        == 200
    )
    assert s.post(subscription_body("ticket.comment_added", 2, 9001)).status == 200
    drain(hub)
    first, second = interactions(hub)
    assert first.contact_id == second.contact_id
    assert (second.channel, second.status) == ("chat", "open")


def test_requesters_known_only_by_id_are_hydrated_when_the_api_is_configured(
    make_runtime: Callable[..., Runtime],
) -> None:
    api = {"subdomain": "acme", "email": "ops@acme.test", "api_token": "zendesk-api-token"}
    hub = channel_runtime(
        make_runtime,
        {"name": "zd", "type": "zendesk", "settings": {"signing_secret": SECRET, "api": api}},
    )
    looked_up: list[str] = []

    class FakeClient:
        def user(self, user_id: str) -> dict[str, Any]:
            looked_up.append(user_id)
            return {"name": "Grace Hopper", "email": "grace@example.com", "phone": None}

    connector = hub.connectors["zd"]
    assert isinstance(connector, ZendeskConnector)
    connector.client = FakeClient()  # type: ignore[assignment]
    sim(hub).post(subscription_body("ticket.created", 3, 777))
    drain(hub)
    [ticket] = interactions(hub)
    assert looked_up == ["777"]
    assert contact(hub, ticket.contact_id).display_name == "Grace Hopper"


@pytest.mark.parametrize(
    ("label", "secret", "skew"),
    [
        ("wrong secret", "another-signing-secret-000", timedelta(0)),
        ("stale", SECRET, timedelta(minutes=-10)),
    ],
)
def test_unproven_webhooks_are_refused_with_401(
    hub: Runtime, label: str, secret: str, skew: timedelta
) -> None:
    answer = sim(hub, secret).post(
        template_body("ticket.created", 1, requester=ADA), at=datetime.now(UTC) + skew
    )
    assert answer.status == 401, label
    assert stored(hub) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1]",
        b'{"event": "ticket.created"}',
        b'{"threadline": 1, "event": "ticket.created", "ticket": {"id": "abc"}}',
        b'{"type": "zen:event-type:ticket.created", "detail": {"id": "1"}}',
    ],
    ids=["not-json", "array", "unknown-shape", "bad-ticket-id", "envelope-without-id"],
)
def test_signed_but_malformed_bodies_are_refused_with_400(hub: Runtime, body: bytes) -> None:
    assert sim(hub).post(None, body=body).status == 400
    assert stored(hub) == 0
