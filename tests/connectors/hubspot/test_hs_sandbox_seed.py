"""Seeding: deterministic and realistic (seeding speed is a bench figure)."""

from __future__ import annotations

from connectors.hubspot.sandbox import HubSpotSandbox, SeedCounts
from connectors.hubspot.sandbox.schema import OBJECT_TYPES
from connectors.hubspot.sandbox.serialize import render


def _snapshot(sandbox: HubSpotSandbox) -> list[dict[str, object]]:
    out = []
    for name, obj in OBJECT_TYPES.items():
        for record in sandbox.store.iter_all(obj):
            out.append(render(obj, record, sorted(obj.properties)))
        out.append(
            {"assoc": name, "rows": sandbox.store.associations(name, obj.id_base, "contacts")}
        )
    return out


def test_same_seed_same_portal() -> None:
    counts = SeedCounts(contacts=300, companies=10, calls=40, emails=10, notes=10, meetings=5)
    assert _snapshot(HubSpotSandbox(seed=11, counts=counts)) == _snapshot(
        HubSpotSandbox(seed=11, counts=counts)
    )


def test_different_seed_different_portal() -> None:
    counts = SeedCounts(contacts=50)
    assert _snapshot(HubSpotSandbox(seed=1, counts=counts)) != _snapshot(
        HubSpotSandbox(seed=2, counts=counts)
    )


def test_seeded_contacts_are_associated_and_share_timestamps() -> None:
    sandbox = HubSpotSandbox(seed=5, counts=SeedCounts(contacts=2000))
    contacts = OBJECT_TYPES["contacts"]
    records = sandbox.store.active(contacts)
    assert len({r.props["email"] for r in records}) == 2000
    modified = [r.props["lastmodifieddate"] for r in records]
    assert len(set(modified)) < len(modified)  # ties exercise a sync's tie-breaker
    companies = sandbox.store.associations("contacts", records[0].id, "companies")
    assert companies
    assert companies[0][1] == {1, 279}


def test_seed_makes_exactly_the_requested_counts() -> None:
    # How fast a large portal seeds is a figure, printed by bench/backfill (not timed here).
    sandbox = HubSpotSandbox(
        seed=9,
        counts=SeedCounts(contacts=20_000, companies=100, calls=0, emails=0, notes=0, meetings=0),
    )
    assert sandbox.store.count(OBJECT_TYPES["contacts"]) == 20_000
    assert sandbox.store.count(OBJECT_TYPES["companies"]) == 100
