"""Automatic merges: deterministic (one record's strong keys name two contacts) and
probabilistic (the candidate scorer, above ``auto_merge.threshold``). Both are
recorded, explained and undone exactly; the traps never merge."""

from __future__ import annotations

from typing import Any

from identity_helpers import apply, call, contact_of, live, person, store_state, two_sources
from sqlalchemy import select

from hub.identity import explain, unmerge
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import Contact, Merge


def merges(runtime: Runtime) -> list[Merge]:
    with runtime.read_sessions() as session:
        return list(session.scalars(select(Merge).order_by(Merge.id)))


KEY = {"customer_number": "C-42"}


def test_a_record_whose_keys_name_two_contacts_merges_them_and_unmerge_splits_them(
    make_runtime: Any,
) -> None:
    runtime = two_sources(make_runtime)
    apply(runtime, person("e-1", "Ada", "Lovelace", keys=KEY))
    apply(
        runtime,
        person("d-1", "Ada", "Lovelace", 5, emails=["ada@example.com"], phones=["+14155550142"]),
        connector="desk",
    )
    apply(runtime, call("call-1", "+1 415 555 0142", 6))
    a, b = contact_of(runtime, "e-1"), contact_of(runtime, "d-1")
    assert a != b
    before = store_state(runtime)
    # The CRM knows both the customer number (contact a) and the e-mail (contact b).
    apply(
        runtime,
        person("c-1", "Ada", "Lovelace", 10, emails=["ada@example.com"], keys=KEY),
        connector="crm",
    )
    [merge] = merges(runtime)
    assert (merge.rule, merge.survivor_id, merge.merged_id, merge.score) == (
        "deterministic",
        a,
        b,
        1.0,
    )
    assert merge.actor == "connector:crm"
    kinds = {(e["kind"], e["value"], e["role"]) for e in merge.evidence}
    assert ("key:customer_number", "C-42", "survivor") in kinds
    assert ("email", "ada@example.com", "merged") in kinds
    assert contact_of(runtime, "c-1") == a
    assert live(runtime, b) == a
    with runtime.read_sessions() as session:
        shown = explain(session, a)
    assert [m["rule"] for m in shown["merges"]] == ["deterministic"]
    assert {r["external_id"] for r in shown["records"]} == {"e-1", "d-1", "c-1"}
    with transaction(runtime.sessions) as session:
        unmerge(session, merge.id, actor="admin:x")
    after = store_state(runtime)
    assert live(runtime, b) == b
    assert contact_of(runtime, "d-1") == b
    # Everything b had is b's again, exactly; the CRM record stays where it joined.
    for table in ("identifiers", "records", "interactions", "journeys", "pops"):
        assert set(before[table]) <= set(after[table]), table
    assert [c for c in after["contacts"] if c[0] == b] == [
        c for c in before["contacts"] if c[0] == b
    ]


def test_the_bulk_path_merges_like_the_per_record_path(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    apply(runtime, person("e-1", "Ada", "Lovelace", keys=KEY))
    apply(
        runtime, person("d-1", "Ada", "Lovelace", 5, emails=["ada@example.com"]), connector="desk"
    )
    apply(
        runtime,
        person("c-0", "Grace", "Hopper", 9, emails=["grace@example.com"]),
        person("c-1", "Ada", "Lovelace", 10, emails=["ada@example.com"], keys=KEY),
        person("c-1", "Ada", "Lovelace", 11, emails=["ada@example.com"], company="Analytical"),
        connector="crm",
    )
    [merge] = merges(runtime)
    a = contact_of(runtime, "e-1")
    assert (merge.rule, merge.survivor_id) == ("deterministic", a)
    assert {contact_of(runtime, r) for r in ("d-1", "c-1")} == {a}
    assert contact_of(runtime, "c-0") != a
    with runtime.read_sessions() as session:
        contact = session.get(Contact, a)
        assert contact is not None
        assert contact.company == "Analytical"


def test_an_ambiguous_value_merges_nobody(make_runtime: Any) -> None:
    """An e-mail two contacts hold already names neither of them."""
    runtime = two_sources(make_runtime)
    apply(runtime, person("e-1", "Ada", "Lovelace", keys=KEY))
    apply(
        runtime,
        person("d-1", "Ada", "Lovelace", 1, emails=["shared@example.com"]),
        person("d-2", "Ada", "Lovelace", 2, emails=["shared@example.com"]),
        connector="desk",
    )
    assert contact_of(runtime, "d-1") != contact_of(runtime, "d-2")
    apply(
        runtime,
        person("c-1", "Ada", "Lovelace", 10, emails=["shared@example.com"], keys=KEY),
        connector="crm",
    )
    assert merges(runtime) == []
    assert contact_of(runtime, "c-1") == contact_of(runtime, "e-1")


def test_a_shared_info_address_never_merges(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    apply(runtime, person("e-1", "Ada", "Lovelace", keys=KEY))
    apply(
        runtime, person("d-1", "Ada", "Lovelace", 5, emails=["info@acme.example"]), connector="desk"
    )
    apply(
        runtime,
        person("c-1", "Ada", "Lovelace", 10, emails=["info@acme.example"], keys=KEY),
        connector="crm",
    )
    assert merges(runtime) == []


def test_a_merge_that_breaks_a_limit_is_refused(make_runtime: Any) -> None:
    """Two CRM records the source keeps apart are two people, whatever keys a desk
    record shares with both."""
    runtime = two_sources(make_runtime)
    apply(
        runtime,
        person("c-1", "Ada", "Lovelace", keys=KEY),
        person("c-2", "Ada", "Lovelace", 1, emails=["ada@example.com"]),
        connector="crm",
    )
    apply(
        runtime,
        person("d-1", "Ada", "Lovelace", 10, emails=["ada@example.com"], keys=KEY),
        connector="desk",
    )
    assert merges(runtime) == []
    assert contact_of(runtime, "c-1") != contact_of(runtime, "c-2")


def test_the_name_guard_keeps_a_family_email_from_merging(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    apply(runtime, person("e-1", "Ada", "Lovelace", keys=KEY))
    apply(
        runtime, person("d-1", "Byron", "Gordon", 5, emails=["home@example.com"]), connector="desk"
    )
    apply(
        runtime,
        person("c-1", "Ada", "Lovelace", 10, emails=["home@example.com"], keys=KEY),
        connector="crm",
    )
    assert merges(runtime) == []


def test_deterministic_merges_can_be_turned_off(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime, hub={"identity": {"auto_merge": {"deterministic": False}}})
    apply(runtime, person("e-1", "Ada", "Lovelace", keys=KEY))
    apply(
        runtime, person("d-1", "Ada", "Lovelace", 5, emails=["ada@example.com"]), connector="desk"
    )
    apply(
        runtime,
        person("c-1", "Ada", "Lovelace", 10, emails=["ada@example.com"], keys=KEY),
        connector="crm",
    )
    assert merges(runtime) == []


# ----- probabilistic: the scorer merges above the threshold, candidates below ----------


def _source_duplicates(runtime: Runtime, email_b: str, **b: Any) -> tuple[str, str]:
    """Two CRM records of (perhaps) one person; the second gets its e-mail by an
    update, so resolution never linked them."""
    apply(
        runtime,
        person(
            "c-1",
            "Robert",
            "Smith",
            company="Acme Inc",
            emails=["bob.smith@acme.example"],
            phones=["+14155550142"],
        ),
        connector="crm",
    )
    apply(runtime, person("c-2", "Bob", "Smith", 5, **b), connector="crm")
    a, b_id = contact_of(runtime, "c-1"), contact_of(runtime, "c-2")
    assert a != b_id
    apply(runtime, person("c-2", "Bob", "Smith", 6, emails=[email_b], **b), connector="crm")
    return a, b_id


def test_the_scorer_merges_a_pair_above_the_threshold(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime, hub={"identity": {"auto_merge": {"respect_limits": False}}})
    a, b = _source_duplicates(
        runtime, "bob.smith@acme.example", company="ACME", phones=["+14155550142"]
    )
    [merge] = merges(runtime)
    assert (merge.rule, merge.actor) == ("probabilistic", "identity:auto_merge")
    assert merge.score is not None
    assert merge.score >= 0.9
    assert {merge.survivor_id, merge.merged_id} == {a, b}
    assert {"kind": "email", "value": "bob.smith@acme.example"} in merge.evidence
    with transaction(runtime.sessions) as session:
        unmerge(session, merge.id, actor="admin:x")
    assert contact_of(runtime, "c-1") != contact_of(runtime, "c-2")


def test_by_default_the_scorer_respects_limits(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    _source_duplicates(runtime, "bob.smith@acme.example", company="ACME", phones=["+14155550142"])
    assert merges(runtime) == []


def test_below_the_threshold_a_pair_stays_a_candidate(make_runtime: Any) -> None:
    from hub.identity import list_candidates

    runtime = two_sources(
        make_runtime,
        hub={"identity": {"auto_merge": {"respect_limits": False, "threshold": 0.99}}},
    )
    a, b = _source_duplicates(runtime, "bob.smith@acme.example", company="ACME")
    assert merges(runtime) == []  # 0.9: name, company and e-mail, but no phone
    with runtime.read_sessions() as session:
        [found] = list_candidates(session)
    assert {found["contact_id"], found["candidate_id"]} == {a, b}


def test_switchboard_info_address_and_namesakes_never_auto_merge(make_runtime: Any) -> None:
    """Same name, same company, same switchboard, same info@: two people."""
    runtime = two_sources(
        make_runtime,
        hub={"identity": {"auto_merge": {"respect_limits": False, "threshold": 0.72}}},
    )
    for rid, minutes, personal in (("c-1", 0, "john@home.example"), ("c-2", 5, "js@mail.example")):
        apply(
            runtime,
            person(
                rid,
                "John",
                "Smith",
                minutes,
                company="Acme Inc",
                phones=["+12125550100"],
                emails=[personal],
            ),
            connector="crm",
        )
    apply(
        runtime,
        person(
            "c-2",
            "John",
            "Smith",
            9,
            company="Acme Inc",
            phones=["+12125550100"],
            emails=["js@mail.example", "info@acme.example"],
        ),
        person(
            "c-1",
            "John",
            "Smith",
            10,
            company="Acme Inc",
            phones=["+12125550100"],
            emails=["john@home.example", "info@acme.example"],
        ),
        connector="crm",
    )
    assert merges(runtime) == []
    assert contact_of(runtime, "c-1") != contact_of(runtime, "c-2")


def test_the_auto_merge_threshold_cannot_sit_below_the_candidate_band() -> None:
    import pytest
    from pydantic import ValidationError

    from hub.identity.rules import IdentityRules

    with pytest.raises(ValidationError, match=r"below candidates\.threshold"):
        IdentityRules.model_validate(
            {"candidates": {"threshold": 0.8}, "auto_merge": {"threshold": 0.7}}
        )
