"""Probabilistic candidates: scored, stored, shown in the context, never merged alone;
an agent's confirmation merges, a rejection is remembered."""

from __future__ import annotations

from typing import Any

from helpers.flow import AUTH, drain, post
from helpers.signing import contact_event, interaction_event
from identity_helpers import apply, contact_of, person
from sqlalchemy import select

from hub.app import create_app
from hub.identity import decide_candidate, list_candidates, unmerge
from hub.identity.candidates import Profile, score
from hub.panel.links import agent_token
from hub.store.db import transaction
from hub.store.models import Merge, Pop

SECRET = "panel-secret-0123456789abcdef"


def profile(
    cid: str,
    first: str,
    last: str,
    company: str | None = None,
    phones: tuple[str, ...] = (),
    emails: tuple[str, ...] = (),
) -> Profile:
    return Profile(cid, first, last, company, frozenset(phones), frozenset(emails))


def test_nickname_typo_and_shared_company_score_above_the_threshold() -> None:
    bob = profile("1", "Bob", "Smith", "Acme Inc", emails=("bob.smith@acme.com",))
    robert = profile("2", "Robert", "Smiht", "ACME", emails=("bob.smith@gmail.com",))
    value, reasons = score(bob, robert)
    assert value >= 0.72
    assert reasons["name"] > 0.9


def test_same_name_at_another_company_is_not_a_candidate() -> None:
    one = profile("1", "John", "Smith", "Acme", phones=("+12125550100",))
    two = profile("2", "John", "Smith", "Globex", phones=("+13125550199",))
    assert score(one, two)[0] < 0.72


def test_a_switchboard_number_is_no_evidence() -> None:
    one = profile("1", "Jon", "Smith", phones=("+12125550100",))
    two = profile("2", "John", "Smith", phones=("+12125550100",))
    assert score(one, two)[0] > score(one, two, frozenset({"+12125550100"}))[0]


def test_candidates_are_stored_shown_in_the_context_and_never_merged_alone(
    make_runtime: Any,
) -> None:
    runtime = make_runtime()
    apply(
        runtime,
        person(
            "a",
            "Robert",
            "Smith",
            company="Acme Inc",
            emails=["bob.smith@acme.com"],
            phones=["+1 415 555 0142"],
        ),
        person("b", "Bob", "Smith", 5, company="ACME", emails=["bob.smith@gmail.com"]),
        person("c", "Robert", "Smith", 6, company="Globex", emails=["rs@globex.example"]),
    )
    a, b, c = (contact_of(runtime, r) for r in "abc")
    assert len({a, b, c}) == 3
    with runtime.read_sessions() as session:
        found = list_candidates(session)
    assert [{f["contact_id"], f["candidate_id"]} for f in found] == [{a, b}]
    client = create_app(runtime=runtime).test_client()
    context = client.get("/api/v1/context?email=bob.smith@acme.com", headers=AUTH).get_json()
    assert [x["contact_id"] for x in context["match"]["candidates"]] == [b]
    with transaction(runtime.sessions) as session:
        assert decide_candidate(session, a, b, confirm=False, actor="admin:x")["decision"] == (
            "rejected"
        )
    apply(
        runtime, person("b", "Bob", "Smith", 50, company="ACME Inc", emails=["bob.smith@gmail.com"])
    )
    with runtime.read_sessions() as session:
        assert list_candidates(session) == []
        assert [r["status"] for r in list_candidates(session, status=None)] == ["rejected"]


def test_agent_confirming_a_candidate_merges_and_unmerge_splits_again(make_runtime: Any) -> None:
    runtime = make_runtime(pops={"panel_secret": SECRET})
    client = create_app(runtime=runtime).test_client()
    post(
        client,
        contact_event(
            "a",
            first_name="Robert",
            last_name="Smith",
            company="Acme",
            emails=["bob.smith@acme.com"],
            phones=["+1 415 555 0142"],
        ),
    )
    post(
        client,
        contact_event(
            "b",
            first_name="Bob",
            last_name="Smith",
            company="Acme",
            emails=["bob.smith@gmail.com"],
            phones=["+1 646 555 0199"],
        ),
    )
    drain(runtime)
    post(client, interaction_event("call-1", agent="agent-7", contact={"phone": "6465550199"}))
    drain(runtime)
    a, b = contact_of(runtime, "a"), contact_of(runtime, "b")
    with runtime.read_sessions() as session:
        pop = session.scalars(select(Pop)).one()
    assert pop.contact_id == b
    answer = client.post(
        "/agent/match",
        json={
            "agent": "agent-7",
            "token": agent_token(SECRET, "agent-7"),
            "pop_id": pop.id,
            "contact_id": a,
            "decision": "confirm",
        },
    )
    assert answer.status_code == 200
    with runtime.read_sessions() as session:
        merge = session.scalars(select(Merge)).one()
    assert (merge.rule, merge.survivor_id, merge.merged_id, merge.actor) == (
        "agent_confirmed",
        a,
        b,
        "agent:agent-7",
    )
    assert contact_of(runtime, "b") == a
    with transaction(runtime.sessions) as session:
        unmerge(session, merge.id, actor="admin:x")
    assert contact_of(runtime, "b") == b
    with runtime.read_sessions() as session:
        assert session.scalars(select(Pop)).one().contact_id == b
        assert [c["status"] for c in list_candidates(session)] == ["open"]
