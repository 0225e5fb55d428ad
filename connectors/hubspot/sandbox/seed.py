"""Deterministic, realistic seed data: the same ``seed`` always yields the same portal.

Timestamps are anchored to a fixed date (not "now") so two runs match byte for byte, and
``lastmodifieddate`` values are whole seconds drawn independently of id order: many
records share a timestamp, which is exactly what exercises a sync's tie-breaker.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .schema import CALL_STATUS, LIFECYCLE, OBJECT_TYPES
from .store import CRMStore
from .timeutil import iso_ms

BASE_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z
SPAN_S = 730 * 86_400  # two years of history

FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Katherine", "Linus",
         "Margaret", "Dennis", "Frances", "Ken", "Radia", "Guido", "Hedy", "Tim", "Sophie",
         "Niklaus", "Anita", "Leslie", "Mary", "John", "Joan", "Vint")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Johnson", "Torvalds",
        "Hamilton", "Ritchie", "Allen", "Thompson", "Perlman", "van Rossum", "Lamarr",
        "Berners-Lee", "Wilson", "Wirth", "Borg", "Lamport", "Keller", "McCarthy", "Clarke",
        "Cerf")
INDUSTRY = ("COMPUTER_SOFTWARE", "HOSPITAL_HEALTH_CARE", "FINANCIAL_SERVICES", "RETAIL",
            "TELECOMMUNICATIONS", "INSURANCE", "LOGISTICS_AND_SUPPLY_CHAIN")
CITIES = ("Boston", "Dublin", "Berlin", "Paris", "Austin", "Toronto", "Sydney", "Madrid")


@dataclass(frozen=True)
class SeedCounts:
    """How many records of each type to create."""

    contacts: int = 200
    companies: int = 20
    calls: int = 100
    emails: int = 40
    notes: int = 80
    meetings: int = 20


def _times(rng: random.Random) -> tuple[int, int]:
    created = BASE_MS + rng.randrange(SPAN_S) * 1000
    updated = min(created + rng.randrange(90 * 86_400) * 1000, BASE_MS + SPAN_S * 1000)
    return created, max(updated, created)


def _seed_companies(store: CRMStore, rng: random.Random, n: int) -> list[int]:
    obj = OBJECT_TYPES["companies"]
    ids = []
    for i in range(n):
        word = rng.choice(LAST).replace(" ", "").replace("-", "").lower()
        created, updated = _times(rng)
        record = store.insert(obj, {
            "name": f"{word.capitalize()} {rng.choice(('Labs', 'Systems', 'Group', 'Inc'))}",
            "domain": f"{word}{i}.example.com", "city": rng.choice(CITIES),
            "industry": rng.choice(INDUSTRY), "numberofemployees": str(rng.randrange(5, 5000)),
            "phone": f"+1617555{i % 10_000:04d}",
        }, created_ms=created, updated_ms=updated, emit=False, track_history=False)
        ids.append(record.id)
    return ids


def _seed_contacts(store: CRMStore, rng: random.Random, n: int,
                   companies: list[int]) -> list[int]:
    obj = OBJECT_TYPES["contacts"]
    ids = []
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        slug = last.replace(" ", "").replace("-", "").lower()
        created, updated = _times(rng)
        values = {
            "email": f"{first.lower()}.{slug}.{i}@example.com", "firstname": first,
            "lastname": last, "phone": f"+1555{rng.randrange(10**7):07d}",
            "lifecyclestage": rng.choice(LIFECYCLE), "city": rng.choice(CITIES),
        }
        if rng.random() < 0.3:
            values["mobilephone"] = f"+4477009{rng.randrange(10**5):05d}"
        record = store.insert(obj, values, created_ms=created, updated_ms=updated,
                              emit=False, track_history=False)
        ids.append(record.id)
        if companies:
            company = companies[i % len(companies)]
            store.associate("contacts", record.id, "companies", company, [279, 1])
    return ids


def _engagement_values(kind: str, rng: random.Random, i: int, ts: int) -> dict[str, str]:
    stamp = iso_ms(ts)
    if kind == "calls":
        return {"hs_timestamp": stamp, "hs_call_title": f"Call #{i}",
                "hs_call_direction": rng.choice(("INBOUND", "OUTBOUND")),
                "hs_call_duration": str(rng.randrange(5, 1800) * 1000),
                "hs_call_status": rng.choice(CALL_STATUS),
                "hs_call_from_number": f"+1555{rng.randrange(10**7):07d}"}
    if kind == "emails":
        return {"hs_timestamp": stamp, "hs_email_subject": f"Re: ticket {i}",
                "hs_email_direction": rng.choice(("EMAIL", "INCOMING_EMAIL")),
                "hs_email_status": "SENT", "hs_email_text": "Thanks for getting in touch."}
    if kind == "notes":
        return {"hs_timestamp": stamp, "hs_note_body": f"<p>Follow-up note {i}</p>"}
    return {"hs_timestamp": stamp, "hs_meeting_title": f"Review {i}",
            "hs_meeting_outcome": rng.choice(("SCHEDULED", "COMPLETED", "NO_SHOW"))}


def seed_store(store: CRMStore, seed: int, counts: SeedCounts) -> None:
    """Fill ``store`` without emitting webhook events (seeding is not a user change)."""
    rng = random.Random(seed)  # noqa: S311 - deterministic fixtures, not security
    with store.lock:
        companies = _seed_companies(store, rng, counts.companies)
        contacts = _seed_contacts(store, rng, counts.contacts, companies)
        for kind in ("calls", "emails", "notes", "meetings"):
            obj = OBJECT_TYPES[kind]
            to_contact = {"calls": 194, "emails": 198, "notes": 202, "meetings": 200}[kind]
            for i in range(getattr(counts, kind)):
                created, updated = _times(rng)
                record = store.insert(obj, _engagement_values(kind, rng, i, created),
                                      created_ms=created, updated_ms=updated, emit=False,
                                      track_history=False)
                if contacts:
                    store.associate(kind, record.id, "contacts", rng.choice(contacts),
                                    [to_contact])
