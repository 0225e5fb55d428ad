"""Seeded data: deterministic, realistic, fast at 100k, with well-formed Salesforce ids."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from connectors.salesforce.sandbox import SalesforceSandbox
from connectors.salesforce.sandbox.ids import case_safe_suffix, make_id, normalize_id

ANCHOR = datetime(2024, 6, 1, tzinfo=UTC)
COUNTS = {"User": 4, "Account": 30, "Contact": 300, "Lead": 50, "Case": 40, "Task": 60, "Event": 20}


def test_same_seed_gives_same_data() -> None:
    one = SalesforceSandbox(seed=42, counts=COUNTS, anchor=ANCHOR)
    two = SalesforceSandbox(seed=42, counts=COUNTS, anchor=ANCHOR)
    for type_name in COUNTS:
        assert one.records(type_name) == two.records(type_name)


def test_different_seed_gives_different_data() -> None:
    one = SalesforceSandbox(seed=1, counts=COUNTS, anchor=ANCHOR)
    two = SalesforceSandbox(seed=2, counts=COUNTS, anchor=ANCHOR)
    assert [r["Email"] for r in one.records("Contact")] != [
        r["Email"] for r in two.records("Contact")
    ]


def test_seeded_records_are_realistic() -> None:
    sandbox = SalesforceSandbox(seed=3, counts=COUNTS, anchor=ANCHOR)
    contacts = sandbox.records("Contact")
    phones = [c["Phone"] for c in contacts if c["Phone"]]
    assert any(p.startswith("+44") for p in phones)
    assert any(p.startswith("(") for p in phones)
    assert len({re.sub(r"\d", "#", p) for p in phones}) > 10  # many national formats
    assert all(c["CreatedDate"] <= c["SystemModstamp"] <= ANCHOR for c in contacts)
    assert all(c["Name"] == f"{c['FirstName']} {c['LastName']}" for c in contacts)
    modstamps = [c["SystemModstamp"] for c in contacts]
    assert len(set(modstamps)) < len(modstamps)  # bulk-edit bursts share a modstamp
    accounts = {a["Id"] for a in sandbox.records("Account")}
    assert {c["AccountId"] for c in contacts if c["AccountId"]} <= accounts
    tasks = sandbox.records("Task")
    assert any(t["CallType"] == "Inbound" and t["CallDurationInSeconds"] for t in tasks)
    user_ids = {u["Id"] for u in sandbox.records("User")}
    assert {c["OwnerId"] for c in contacts} <= user_ids


def test_new_records_continue_after_seeded_ids() -> None:
    sandbox = SalesforceSandbox(seed=3, counts={"Contact": 5}, anchor=ANCHOR)
    new_id = sandbox.create_record("Contact", {"LastName": "Next"})
    assert new_id == make_id("003", 6)


def test_seeding_makes_exactly_the_requested_counts() -> None:
    # How fast a large org seeds is a figure, printed by bench/backfill (not timed here).
    counts = {"Account": 500, "Contact": 6000, "Lead": 1500, "Case": 1000, "Task": 1000}
    sandbox = SalesforceSandbox(seed=9, counts=counts, anchor=ANCHOR)
    assert {t: len(sandbox.store.records[t]) for t in counts} == counts


@pytest.mark.parametrize(
    ("id15", "suffix"),
    [
        ("001A0000006Vm9r", "IAC"),
        ("003000000000000", "AAA"),
        ("a0Bxx0000000ABC", "EA2"),
    ],
)
def test_case_safe_suffix_matches_salesforce(id15: str, suffix: str) -> None:
    assert case_safe_suffix(id15) == suffix


def test_ids_have_key_prefix_and_valid_suffix() -> None:
    sandbox = SalesforceSandbox(seed=1, counts=COUNTS, anchor=ANCHOR)
    prefixes = {
        "Account": "001",
        "Contact": "003",
        "Lead": "00Q",
        "Case": "500",
        "Task": "00T",
        "Event": "00U",
        "User": "005",
    }
    for type_name, prefix in prefixes.items():
        for record in sandbox.records(type_name):
            assert record["Id"].startswith(prefix)
            assert len(record["Id"]) == 18
            assert normalize_id(record["Id"][:15]) == record["Id"]


def test_a_large_org_has_numbers_and_emails_of_its_own() -> None:
    """A small org draws US and UK numbers from the fictional ranges (a thousand each);
    past PEOPLE_PER_SPREAD people the seed widens them, as a real org's numbers are
    nearly all distinct (a million contacts once shared each number ~170 times)."""
    from connectors.salesforce.sandbox.seed import PEOPLE_PER_SPREAD

    def us_phones(sandbox: SalesforceSandbox) -> list[str]:
        phones = (str(c["Phone"]) for c in sandbox.records("Contact"))
        return [p for p in phones if p.startswith("(415)")]

    small = SalesforceSandbox(seed=5, counts={"Contact": 2000}, anchor=ANCHOR)
    assert us_phones(small)
    assert all(p.startswith("(415) 555-0") for p in us_phones(small))
    large = SalesforceSandbox(seed=5, counts={"Contact": 2 * PEOPLE_PER_SPREAD}, anchor=ANCHOR)
    phones = us_phones(large)
    assert len(phones) > 1000
    assert len(set(phones)) > 0.95 * len(phones)
    emails = [c["Email"] for c in large.records("Contact") if c["Email"]]
    assert len(set(emails)) > 0.5 * len(emails)
