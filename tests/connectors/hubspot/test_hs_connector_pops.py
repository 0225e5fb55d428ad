"""Screen pops into HubSpot (one note per key, even after a crash) and the app card's
data endpoint (v3-signed, answered from the store)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from hs_helpers import connector, drain, event, hs_runtime, post_events, signed

from connectors.hubspot.objects import POP_MARKER
from connectors.hubspot.sandbox import HubSpotSandbox
from hub.app import create_app
from hub.runtime import Runtime
from hub.sandbox_server import RunningServer


def _payload(contact_id: str, connector_name: str = "hs") -> dict[str, Any]:
    return {
        "pop_id": "pop-1",
        "contact": {"display_name": "Ada Lovelace"},
        "identities": [
            {"connector": "zendesk", "object_type": "user", "external_id": "9"},
            {"connector": connector_name, "object_type": "contact", "external_id": contact_id},
        ],
        "recent_interactions": [
            {
                "occurred_at": "2026-01-02T09:00:00+00:00",
                "channel": "whatsapp",
                "direction": "inbound",
                "summary": "Asked about <b>invoice</b> 42",
            },
            {
                "occurred_at": "2026-01-01T09:00:00+00:00",
                "channel": "email",
                "direction": "outbound",
                "summary": "Sent the refund form",
            },
        ],
        "open_items": [{"title": "Refund pending"}],
        "trigger": {"channel": "voice", "direction": "inbound", "from": "+14155550142"},
    }


def _notes_on(sandbox: HubSpotSandbox, contact_id: int, kind: str = "notes") -> list[Any]:
    ids = [i for i, _ in sandbox.store.associations("contacts", contact_id, kind)]
    return [sandbox.get(kind, i) for i in ids if POP_MARKER in str(sandbox.get(kind, i).props)]


@pytest.fixture
def hub(
    make_runtime: Callable[..., Runtime], sandbox: HubSpotSandbox, server: RunningServer
) -> Runtime:
    return hs_runtime(make_runtime, sandbox, server.url)


def test_a_pop_pushed_twice_makes_exactly_one_note(hub: Runtime, sandbox: HubSpotSandbox) -> None:
    target = connector(hub).push_targets()[0]
    first = target.push(_payload("101"), "pop-1:hs")
    second = target.push(_payload("101"), "pop-1:hs")
    assert first == second == "https://app.hubspot.com/contacts/62515/record/0-1/101"
    notes = _notes_on(sandbox, 101)
    assert len(notes) == 1
    body = notes[0].props["hs_note_body"]
    assert "whatsapp" in body
    assert "&lt;b&gt;invoice&lt;/b&gt;" in body
    assert "Refund pending" in body


def test_a_crash_between_create_and_commit_does_not_duplicate(
    hub: Runtime, sandbox: HubSpotSandbox
) -> None:
    target = connector(hub).push_targets()[0]
    target.push(_payload("101"), "pop-2:hs")
    context = connector(hub).context
    context.set_state("pop:pop-2:hs", {"status": "creating"})  # the commit was lost
    target.push(_payload("101"), "pop-2:hs")
    assert len(_notes_on(sandbox, 101)) == 1
    assert context.get_state("pop:pop-2:hs")["status"] == "done"


def test_call_engagement_pops_associate_with_type_194(
    make_runtime: Callable[..., Runtime], sandbox: HubSpotSandbox, server: RunningServer
) -> None:
    runtime = hs_runtime(make_runtime, sandbox, server.url, pop={"engagement": "call"})
    connector(runtime).push_targets()[0].push(_payload("102"), "pop-3:hs")
    calls = _notes_on(sandbox, 102, "calls")
    assert len(calls) == 1
    assert calls[0].props["hs_call_direction"] == "INBOUND"
    assert calls[0].props["hs_call_from_number"] == "+14155550142"


def test_pop_without_a_hubspot_identity_does_nothing(hub: Runtime, sandbox: HubSpotSandbox) -> None:
    target = connector(hub).push_targets()[0]
    assert target.push(_payload("101", connector_name="other"), "pop-4:hs") is None
    assert sandbox.request_log.count(("POST", "/crm/v3/objects/notes")) == 0


def test_own_pop_notes_do_not_come_back_as_interactions(
    hub: Runtime, sandbox: HubSpotSandbox
) -> None:
    conn = connector(hub)
    conn.push_targets()[0].push(_payload("101"), "pop-5:hs")
    notes = next(s for s in conn.streams() if s.name == "notes")
    ids = [r.external_id for page in notes.read({}) for r in page.records]
    assert str(_notes_on(sandbox, 101)[0].id) not in ids
    assert len(ids) == 20


def _card(client: Any, query: str, **sign: Any) -> Any:
    path = f"/webhooks/hs/app-card?{query}"
    return client.get(path, headers=signed(f"http://localhost{path}", b"", method="GET", **sign))


def test_app_card_answers_with_the_cross_channel_context(
    hub: Runtime, sandbox: HubSpotSandbox
) -> None:
    client = create_app(runtime=hub).test_client()
    assert post_events(client, [event("contact.creation", 101)]).status_code == 200
    drain(hub)
    started = time.perf_counter()
    answer = _card(client, "objectId=101&userId=1&userEmail=a%40b.c&appId=54321&portalId=62515")
    assert time.perf_counter() - started < 1.0  # HubSpot gives hubspot.fetch 15 s
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["found"] is True
    assert body["objectId"] == "101"
    expected = sandbox.get("contacts", 101).props
    assert body["contact"]["first_name"] == expected["firstname"]
    assert {"connector": "hs", "object_type": "contact", "external_id": "101"} in body["identities"]


def test_app_card_for_an_unknown_record_says_so(hub: Runtime) -> None:
    client = create_app(runtime=hub).test_client()
    path = "/webhooks/hs/app-card"
    body = b'{"objectId": "999", "objectTypeId": "0-1"}'
    answer = client.post(path, data=body, headers=signed(f"http://localhost{path}", body))
    assert answer.status_code == 200
    assert answer.get_json()["found"] is False
    assert "No Threadline context" in answer.get_json()["message"]


@pytest.mark.parametrize(
    ("case", "sign"),
    [
        ("wrong secret", {"secret": "nope"}),
        ("stale", {"timestamp_ms": int(time.time() * 1000) - 10 * 60 * 1000}),
    ],
)
def test_app_card_rejects_bad_signatures(hub: Runtime, case: str, sign: dict[str, Any]) -> None:
    client = create_app(runtime=hub).test_client()
    assert _card(client, "objectId=101", **sign).status_code == 401, case
    unsigned = client.get("/webhooks/hs/app-card?objectId=101")
    assert unsigned.status_code == 401


def test_app_card_rejects_a_request_without_an_object_id(hub: Runtime) -> None:
    client = create_app(runtime=hub).test_client()
    assert _card(client, "portalId=62515").status_code == 400
