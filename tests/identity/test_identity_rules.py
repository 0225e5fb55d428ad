"""Configurable deterministic resolution: priority, merge protection, block-lists,
per-identifier limits and national phone variants."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.flow import record_by_record
from identity_helpers import apply, contact_of, person, two_sources
from pydantic import ValidationError
from sqlalchemy import select

from hub.identity.phones import canonical_phone
from hub.identity.rules import IdentityRules
from hub.store.db import transaction
from hub.store.models import IdentityLink
from hub.store.records import upsert_contact_record


def test_default_priority_prefers_a_customer_key_to_an_email(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    apply(runtime, person("x", "Ann", "One", keys={"customer_number": "C-1"}))
    apply(runtime, person("y", "Ann", "Two", emails=["ann@example.com"]))
    apply(
        runtime,
        person("z", "Ann", "Three", 5, emails=["ann@example.com"], keys={"customer_number": "C-1"}),
        connector="crm",
    )
    assert contact_of(runtime, "z") == contact_of(runtime, "x")


def test_configured_priority_puts_email_first(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime, hub={"identity": {"priority": ["record", "email", "key"]}})
    apply(runtime, person("x", "Ann", "One", keys={"customer_number": "C-1"}))
    apply(runtime, person("y", "Ann", "Two", emails=["ann@example.com"]))
    apply(
        runtime,
        person("z", "Ann", "Three", 5, emails=["ann@example.com"], keys={"customer_number": "C-1"}),
        connector="crm",
    )
    assert contact_of(runtime, "z") == contact_of(runtime, "y")


def test_a_switchboard_number_never_joins_strangers(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    apply(
        runtime,
        person("a", "Ann", "Acme", phones=["+1 212 555 0100"]),
        person("b", "Bob", "Acme", phones=["+1 212 555 0100"]),
    )
    apply(runtime, person("c", "Cy", "Acme", phones=["(212) 555-0100"]), connector="crm")
    ids = {contact_of(runtime, r) for r in "abc"}
    assert len(ids) == 3


@pytest.mark.parametrize("path", ["page", "record"])
def test_a_value_held_by_more_than_k_contacts_never_links_even_when_limits_leave_one(
    make_runtime: Any, path: str
) -> None:
    """Given a phone held by three contacts (K = 2), two of which already hold a CRM
    record, when a third CRM record with that phone arrives, then it gets a contact of
    its own: the limits rule two holders out, but the value is ambiguous whoever the
    holders are (resolution reads at most K + 1 of them, however many there are)."""
    runtime = two_sources(make_runtime)
    phone = {"phones": ["+1 415 555 0177"]}
    apply(runtime, person("c-1", "Ada", "Lovelace", 1, **phone), connector="crm")
    apply(runtime, person("c-2", "Ada", "Lovelace", 2, **phone), connector="crm")
    apply(runtime, person("d-1", "Ada", "Lovelace", 3, **phone), connector="desk")
    assert len({contact_of(runtime, r) for r in ("c-1", "c-2", "d-1")}) == 3
    record = person("c-3", "Ada", "Lovelace", 4, **phone)
    if path == "page":
        apply(runtime, record, connector="crm")
    else:
        record_by_record(runtime, "crm", record)
    assert contact_of(runtime, "c-3") not in {contact_of(runtime, r) for r in ("c-1", "c-2", "d-1")}
    with runtime.read_sessions() as session:
        link = session.scalars(select(IdentityLink).where(IdentityLink.external_id == "c-3")).one()
    assert (link.rule, link.ambiguous) == ("new", [["phone", "+14155550177"]])


def test_configured_block_list_and_shipped_junk_never_link(make_runtime: Any) -> None:
    runtime = two_sources(
        make_runtime, hub={"identity": {"block": {"email": ["info@acme.example"]}}}
    )
    apply(
        runtime,
        person("a", "Ann", "A", emails=["info@acme.example", "test@test.com"], phones=["0000000"]),
    )
    apply(
        runtime,
        person("b", "Bob", "B", emails=["INFO@acme.example", "test@test.com"]),
        connector="crm",
    )
    assert contact_of(runtime, "a") != contact_of(runtime, "b")


def test_email_limit_keeps_a_fourth_address_from_joining(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime, hub={"identity": {"limits": {"record:*": 1, "email": 2}}})
    apply(runtime, person("a", "Ann", "A", emails=["a1@example.com", "a2@example.com"]))
    apply(runtime, person("b", "Ann", "A", 1, emails=["a1@example.com"]), connector="crm")
    apply(
        runtime,
        person("c", "Ann", "A", 2, emails=["a2@example.com", "a3@example.com"]),
        connector="desk",
    )
    assert contact_of(runtime, "b") == contact_of(runtime, "a")
    assert contact_of(runtime, "c") != contact_of(runtime, "a")


@pytest.mark.parametrize(
    ("spelled", "canonical"),
    [
        ("+551187654321", "+5511987654321"),  # Brazil: old 8-digit mobile gains its 9
        ("+5511987654321", "+5511987654321"),
        ("+551133334444", "+551133334444"),  # Brazil landline: untouched
        ("+5491112345678", "+541112345678"),  # Argentina: the mobile 9 goes
        ("+541112345678", "+541112345678"),
        ("+5215512345678", "+525512345678"),  # Mexico: the old mobile 1 goes
        ("+14155550142", "+14155550142"),
        ("+442079460958", "+442079460958"),
    ],
)
def test_national_phone_variants_fold_to_one_number(spelled: str, canonical: str) -> None:
    assert canonical_phone(spelled) == canonical


def test_brazilian_and_argentine_variants_resolve_to_one_person(make_runtime: Any) -> None:
    from helpers.flow import AUTH

    from hub.app import create_app

    runtime = two_sources(make_runtime)
    apply(
        runtime,
        person("br", "Joao", "Silva", phones=["+55 11 8765-4321"]),
        person("ar", "Ana", "Gomez", phones=["+54 9 11 1234-5678"]),
    )
    apply(
        runtime,
        person("br2", "João", "Silva", 5, phones=["+55 (11) 98765-4321"]),
        person("ar2", "Ana", "Gómez", 5, phones=["+54 11 1234 5678"]),
        connector="crm",
    )
    assert contact_of(runtime, "br2") == contact_of(runtime, "br")
    assert contact_of(runtime, "ar2") == contact_of(runtime, "ar")
    client = create_app(runtime=runtime).test_client()
    found = client.get("/api/v1/contacts?phone=%2B55 11 8765-4321", headers=AUTH).get_json()
    assert [r["id"] for r in found["results"]] == [contact_of(runtime, "br")]


def test_unknown_priority_kind_is_a_configuration_error() -> None:
    with pytest.raises(ValidationError, match="unknown identifier kind"):
        IdentityRules(priority=["record", "fax"])
    assert IdentityRules().rank("key:salesforce_id") < IdentityRules().rank("email")
    assert IdentityRules(priority=["key:salesforce_id", "record"]).rank(
        "key:salesforce_id"
    ) < IdentityRules(priority=["key:salesforce_id", "record"]).rank("record:crm:contact")


def test_a_hubspot_contact_meets_its_salesforce_contact_on_the_cross_system_key(
    runtime: Any,
) -> None:
    from helpers.config import REPO

    from hub.mapping import load_mapping
    from hub.transforms import TransformContext

    ctx = TransformContext("US")
    sf_id = "0035g00000AbCdEAAZ"
    sf = load_mapping(REPO / "mappings/salesforce/contact.yaml").apply(
        {"Id": sf_id, "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@work.example"}, ctx
    )
    hs = load_mapping(REPO / "mappings/hubspot/contact.yaml").apply(
        {"properties": {"firstname": "Ada", "lastname": "King", "salesforcecontactid": sf_id}}, ctx
    )
    with transaction(runtime.sessions) as session:
        first, _ = upsert_contact_record(
            session, connector="sf", object_type="contact", external_id=sf_id, mapped=sf,
            updated_at=None,
        )  # fmt: skip
        second, _ = upsert_contact_record(
            session, connector="hs", object_type="contact", external_id="501", mapped=hs,
            updated_at=None,
        )  # fmt: skip
        assert second.id == first.id
