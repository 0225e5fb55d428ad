"""Given a customer seen on several channels, when an IVR or agent asks for context by
phone, e-mail or source record, then one answer carries everything; unknown → 404."""

from __future__ import annotations

from typing import Any

from helpers.flow import AUTH, drain, post
from helpers.signing import contact_event, interaction_event

from hub.runtime import Runtime


def seed_customer(client: Any, runtime: Runtime) -> None:
    post(client, contact_event("c-1", tier="VIP", language="pt-BR", company="Acme"))
    post(
        client,
        {
            **interaction_event(
                "wa-1",
                channel="whatsapp",
                agent=None,
                occurred_at="2026-11-22T10:02:00Z",
                summary="Where is my order?",
            ),
            "type": "interaction.created",
        },
    )
    post(
        client,
        {
            **interaction_event(
                "case-1",
                channel="crm-activity",
                status="open",
                occurred_at="2026-11-22T09:00:00Z",
                summary="Order 1234 missing",
                agent="agent-2",
            ),
            "type": "interaction.created",
        },
    )
    post(
        client,
        interaction_event(
            "call-1", channel="voice", agent="agent-7", occurred_at="2026-11-22T10:09:00Z"
        ),
    )
    drain(runtime)


def test_context_by_phone_in_any_format_has_everything(client: Any, runtime: Runtime) -> None:
    seed_customer(client, runtime)
    response = client.get("/api/v1/context?phone=(415) 555-0142", headers=AUTH)
    assert response.status_code == 200
    body = response.get_json()
    assert body["contact"]["display_name"] == "Ada Lovelace"
    assert body["contact"]["tier"] == "vip"
    assert [i["source"]["ref"] for i in body["interactions"]] == [
        "interaction:call-1",
        "interaction:wa-1",
        "interaction:case-1",
    ]
    assert [o["ref"] for o in body["open_items"]] == ["interaction:case-1"]
    assert body["journey"]["channels"] == ["whatsapp", "voice"]
    assert body["match"] == {
        "confidence": 1.0,
        "candidates": [],
        "matched_on": {"kind": "phone", "value": "+14155550142"},
    }
    assert body["routing"] == {
        "last_agent": "agent-7",
        "preferred_channel": "voice",
        "language": "pt-br",
        "vip": True,
    }
    assert body["identities"] == [
        {
            "connector": "events",
            "object_type": "contact",
            "external_id": "c-1",
            "deep_link": None,
            "deleted": False,
        }
    ]


def test_context_by_email_and_by_source_record_is_the_same_contact(
    client: Any, runtime: Runtime
) -> None:
    seed_customer(client, runtime)
    by_email = client.get("/api/v1/context?email=ADA@example.com", headers=AUTH).get_json()
    by_record = client.get(
        "/api/v1/context?connector=events&object_type=contact&id=c-1", headers=AUTH
    ).get_json()
    assert by_email["contact"]["id"] == by_record["contact"]["id"]


def test_unknown_caller_is_404_with_a_clear_body(client: Any, runtime: Runtime) -> None:
    response = client.get("/api/v1/context?phone=+1 212 555 0199", headers=AUTH)
    assert response.status_code == 404
    assert response.get_json()["title"] == "unknown_contact"


def test_shared_number_names_the_other_holders_as_candidates(client: Any, runtime: Runtime) -> None:
    post(client, contact_event("a", emails=["a@example.com"], phones=["+1 212 555 0100"]))
    post(client, contact_event("b", emails=["b@example.com"], phones=["+1 212 555 0100"]))
    post(
        client,
        {
            **interaction_event("x", contact={"email": "b@example.com"}),
            "type": "interaction.created",
        },
    )
    drain(runtime)
    body = client.get("/api/v1/context?phone=2125550100", headers=AUTH).get_json()
    assert body["contact"]["identifiers"][0] == {"kind": "email", "value": "b@example.com"}
    assert body["match"]["confidence"] == 0.5
    [candidate] = body["match"]["candidates"]
    assert candidate["confidence"] == 0.5


def test_context_needs_a_token_and_a_valid_query(client: Any) -> None:
    assert client.get("/api/v1/context?phone=1").status_code == 401
    bad = client.get("/api/v1/context?phone=12", headers=AUTH)
    assert (bad.status_code, bad.get_json()["title"]) == (400, "invalid_query")
    assert client.get("/api/v1/context", headers=AUTH).status_code == 400
