"""Merges are recorded with their rule and evidence, and unmerge restores the store
exactly: contacts, identifiers, source records, interactions, journeys and pops."""

from __future__ import annotations

import json
from typing import Any

import pytest
from identity_helpers import apply, call, contact_of, live, person, store_state, two_sources
from sqlalchemy import select

from hub.cli import main
from hub.identity import explain, list_merges, merge_contacts, unmerge
from hub.plugin import SourceMerge
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import AuditEntry, Contact, Identifier, Interaction, Merge


def test_two_records_the_source_keeps_apart_stay_apart_despite_a_shared_phone(
    runtime: Runtime,
) -> None:
    apply(
        runtime,
        person("a", "Ada", "Lovelace", phones=["+1 415 555 0142"]),
        person("b", "Ada", "Lovelace", 10, phones=["+1 415 555 0142"]),
    )
    assert contact_of(runtime, "a") != contact_of(runtime, "b")


def test_source_merge_moves_everything_and_unmerge_restores_it_exactly(
    runtime: Runtime,
) -> None:
    apply(
        runtime,
        person("a", "Ada", "Lovelace", emails=["ada@example.com"], phones=["+1 415 555 0142"]),
        person(
            "b",
            "Augusta",
            "King",
            30,
            emails=["augusta@example.org"],
            phones=["+1 646 555 0199"],
            company="Analytical",
            tier="gold",
        ),
    )
    apply(runtime, call("call-b", "+1 646 555 0199"), call("call-a", "+1 415 555 0142", 7))
    a, b = contact_of(runtime, "a"), contact_of(runtime, "b")
    assert a != b
    before = store_state(runtime)
    apply(runtime, SourceMerge("contact", primary_id="a", merged_ids=("b",)))
    with runtime.read_sessions() as session:
        merge = session.scalars(select(Merge)).one()
        audit = session.scalars(select(AuditEntry)).one()
        survivor = session.get(Contact, a)
        assert survivor is not None
        assert (merge.rule, merge.survivor_id, merge.merged_id, merge.actor) == (
            "source_merge",
            a,
            b,
            "connector:events",
        )
        assert audit.action == "contact.merge"
        assert audit.details["merge_id"] == merge.id
        # everything b owned is a's now, and b's fields joined by survivorship
        assert {i.contact_id for i in session.scalars(select(Interaction))} == {a}
        assert {i.contact_id for i in session.scalars(select(Identifier))} == {a}
        assert (survivor.company, survivor.tier, survivor.first_name) == (
            "Analytical",
            "gold",
            "Augusta",  # b's record is the newer one
        )
    assert live(runtime, b) == a
    with transaction(runtime.sessions) as session:
        result = unmerge(session, merge.id, actor="admin:test")
    assert result["restored"] == b
    after = store_state(runtime)
    changed = {  # the merged record's snapshot and deleted_at come back too
        name for name in before if before[name] != after[name]
    }
    assert changed == set(), {n: (before[n], after[n]) for n in changed}
    with runtime.read_sessions() as session:
        row = session.get(Merge, merge.id)
        assert row is not None
        assert row.undone_by == "admin:test"


def test_unmerge_keeps_values_that_arrived_after_the_merge(runtime: Runtime) -> None:
    apply(
        runtime,
        person("a", "Ada", "Lovelace", emails=["ada@example.com"]),
        person("b", "Bea", "Byron", emails=["bea@example.com"]),
    )
    a, b = contact_of(runtime, "a"), contact_of(runtime, "b")
    with transaction(runtime.sessions) as session:
        merge = merge_contacts(session, a, b, rule="admin", actor="admin:x")
    apply(runtime, person("b", "Bea", "Byron", 60, emails=["bea@example.com"], company="Newco"))
    apply(runtime, person("a", "Ada", "Lovelace", 61, emails=["ada@example.com"], tier="vip"))
    with transaction(runtime.sessions) as session:
        unmerge(session, merge.id)
    with runtime.read_sessions() as session:
        ca, cb = session.get(Contact, a), session.get(Contact, b)
        assert ca is not None
        assert cb is not None
        assert (ca.first_name, ca.company, ca.tier) == ("Ada", None, "vip")
        assert (cb.first_name, cb.company, cb.merged_into_id) == ("Bea", "Newco", None)


def test_unmerge_refuses_twice_and_unknown_ids(runtime: Runtime) -> None:
    apply(
        runtime,
        person("a", "A", "X", emails=["a@example.com"]),
        person("b", "B", "Y", emails=["b@example.com"]),
    )
    with transaction(runtime.sessions) as session:
        merge = merge_contacts(
            session, contact_of(runtime, "a"), contact_of(runtime, "b"), rule="admin", actor="t"
        )
    with transaction(runtime.sessions) as session:
        unmerge(session, merge.id)
    with transaction(runtime.sessions) as session, pytest.raises(ValueError, match="already"):
        unmerge(session, merge.id)
    with transaction(runtime.sessions) as session, pytest.raises(LookupError):
        unmerge(session, 999)
    with transaction(runtime.sessions) as session, pytest.raises(ValueError, match="already"):
        merge_contacts(
            session, contact_of(runtime, "a"), contact_of(runtime, "a"), rule="admin", actor="t"
        )


def test_explain_names_the_rule_and_key_of_every_link_and_the_merges(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    apply(runtime, person("a", "Ada", "Lovelace", emails=["ada@example.com"]))
    apply(runtime, person("b", "Ada", "L", 5, emails=["ADA@example.com"]), connector="crm")
    apply(runtime, person("c", "Ada", "Lovelace", 6, phones=["+1 212 555 0100"]))
    apply(runtime, SourceMerge("contact", primary_id="a", merged_ids=("c",)))
    a = contact_of(runtime, "a")
    with runtime.read_sessions() as session:
        story = explain(session, a)
        merges = list_merges(session, contact_id=a)
    links = {r["external_id"]: r["linked"] for r in story["records"]}
    assert links["a"]["rule"] == "new"
    assert (links["b"]["rule"], links["b"]["key"]) == (
        "matched",
        {"kind": "email", "value": "ada@example.com"},
    )
    assert links["c"]["rule"] == "new"
    assert links["c"]["via_merge"]["rule"] == "source_merge"
    assert [m["rule"] for m in story["merges"]] == ["source_merge"] == [m["rule"] for m in merges]
    assert {"kind": "phone", "value": "+12125550100"} in [
        {"kind": i["kind"], "value": i["value"]} for i in story["identifiers"]
    ]
    assert story["fields"]["first_name"]["external_id"] in {"a", "b", "c"}


def test_cli_explains_and_unmerges(
    runtime: Runtime, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers.config import base_config

    apply(
        runtime,
        person("a", "A", "X", emails=["a@example.com"]),
        person("b", "B", "Y", emails=["b@example.com"]),
    )
    apply(runtime, SourceMerge("contact", primary_id="a", merged_ids=("b",)))
    config = tmp_path / "threadline.json.yaml"
    config.write_text(json.dumps(base_config(str(runtime.engine.url.render_as_string(False)))))
    a = contact_of(runtime, "a")
    assert main(["--config", str(config), "contacts", "explain", a]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [r["external_id"] for r in shown["records"]] == ["a", "b"]
    merge_id = shown["merges"][0]["id"]
    assert main(["--config", str(config), "contacts", "unmerge", str(merge_id)]) == 0
    assert json.loads(capsys.readouterr().out)["merge_id"] == merge_id
    assert contact_of(runtime, "b") != a
    assert main(["--config", str(config), "contacts", "unmerge", str(merge_id)]) == 1
    with runtime.read_sessions() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["contact.merge", "contact.unmerge"]


def test_unmerge_by_the_audit_entry_of_an_old_merge_says_why_it_cannot(
    runtime: Runtime,
) -> None:
    with transaction(runtime.sessions) as session:
        session.add(AuditEntry(actor="x", action="contact.merge", subject="ct_b", details={}))
    with transaction(runtime.sessions) as session, pytest.raises(ValueError, match="before"):
        unmerge(session, 1)
