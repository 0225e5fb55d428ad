"""A labelled evaluation set, generated deterministically: CRM-like people spread over
three sources, with the corruptions real data has.

Corruptions: e-mail case and spacing, phone formatting (national, international,
dotted, 00-prefixed), Brazilian and Argentine national variants, typos and nicknames
in names, missing fields, same-source duplicates, company switchboard numbers shared
by colleagues, a couple sharing a family e-mail, and different people who share a name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.plugin import SourceRecord

FIRST = [
    "Robert",
    "William",
    "James",
    "Michael",
    "Elizabeth",
    "Katherine",
    "Thomas",
    "Richard",
    "David",
    "Jennifer",
    "Susan",
    "Margaret",
    "Patricia",
    "Joseph",
    "Daniel",
    "Maria",
    "Ana",
    "Lucas",
    "Sofia",
    "Mateo",
    "Olivia",
    "Noah",
    "Emma",
    "Liam",
    "Chloe",
    "Hugo",
    "Ines",
    "Pedro",
    "Julia",
    "Rafael",
]
NICK = {
    "Robert": "Bob",
    "William": "Bill",
    "James": "Jim",
    "Michael": "Mike",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Thomas": "Tom",
    "Richard": "Rick",
    "David": "Dave",
    "Jennifer": "Jen",
    "Susan": "Sue",
    "Margaret": "Maggie",
    "Patricia": "Pat",
    "Joseph": "Joe",
    "Daniel": "Dan",
}
LAST = [
    "Smith",
    "Johnson",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "Silva",
    "Souza",
    "Costa",
    "Pereira",
    "Ferreira",
    "Almeida",
    "Carvalho",
    "Gomez",
    "Fernandez",
    "Diaz",
    "Romero",
    "Alvarez",
    "Torres",
    "Ruiz",
    "Castro",
    "Ortiz",
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark",
    "Wayne",
    "Wonka",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Vandelay",
    "Massive",
    "Gringotts",
    "Oscorp",
]
SOURCES = ("events", "crm", "desk")
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Entity:
    id: int
    first: str
    last: str
    company: str
    email: str
    phone: str  # E.164
    region: str


def _phone(rng: random.Random, region: str) -> str:
    if region == "BR":
        return f"+55{rng.choice([11, 21, 31])}9{rng.randint(60000000, 99999999)}"
    if region == "AR":
        return f"+54{rng.choice([11, 351])}{rng.randint(10000000, 99999999)}"[:13]
    return f"+1{rng.choice([212, 312, 415, 646, 718])}{rng.randint(2000000, 9999999)}"


def _spell_phone(rng: random.Random, e164: str) -> str:
    """How a person or a CRM writes the number (all the same line)."""
    if e164.startswith("+55"):
        national = e164[3:]
        if rng.random() < 0.4:  # the old 8-digit mobile form
            return f"+55 {national[:2]} {national[3:7]}-{national[7:]}"
        return f"+55 ({national[:2]}) {national[2:7]}-{national[7:]}"
    if e164.startswith("+54"):
        national = e164[3:]
        return rng.choice(
            [f"+54 9 {national[:2]} {national[2:]}", f"+54 {national}", f"0054 9 {national}"]
        )
    digits = e164[2:]
    return rng.choice(
        [
            f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
            f"+1 {digits}",
            f"{digits[:3]}.{digits[3:6]}.{digits[6:]}",
            f"1-{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        ]
    )


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    return rng.choice(
        [
            word[:i] + word[i + 1] + word[i] + word[i + 2 :],  # swap
            word[:i] + word[i + 1 :],  # drop
            word[:i] + word[i] + word[i:],
        ]
    )  # double


def entities(rng: random.Random, n: int) -> list[Entity]:
    people: list[Entity] = []
    for i in range(n):
        region = rng.choices(["US", "BR", "AR"], [0.7, 0.2, 0.1])[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        if i % 25 == 1:  # a namesake of the previous person: another human being
            first, last = people[-1].first, people[-1].last
        company = rng.choice(COMPANIES)
        email = (
            f"{first[0].lower()}{last.lower()}{i}@{rng.choice(['mail', 'corp', 'post'])}.example"
        )
        people.append(Entity(i, first, last, company, email, _phone(rng, region), region))
    return people


def records(seed: int = 7, n: int = 300) -> tuple[list[tuple[str, SourceRecord]], dict[str, int]]:
    """``[(connector, record)]`` in arrival order and the truth: record key → entity."""
    rng = random.Random(seed)
    people = entities(rng, n)
    switchboards = {c: f"+1212555{1000 + k:04d}" for k, c in enumerate(COMPANIES)}
    family = {p.id: people[p.id - 1].email for p in people[3::40]}  # couples share an e-mail
    out: list[tuple[str, SourceRecord]] = []
    truth: dict[str, int] = {}
    counter = 0
    for p in people:
        sources = rng.sample(SOURCES, rng.choice([1, 2, 2, 3, 3]))
        if rng.random() < 0.05:
            sources.append(sources[0])  # a duplicate inside one source
        for source in sources:
            counter += 1
            rid = f"r{counter}"
            data = _record_data(rng, p, switchboards, family.get(p.id))
            data["id"] = rid
            stamp = BASE + timedelta(minutes=rng.randint(0, 100000))
            out.append((source, SourceRecord("contact", rid, data, stamp)))
            truth[f"{source}:{rid}"] = p.id
    rng.shuffle(out)
    return out, truth


def _record_data(
    rng: random.Random, p: Entity, switchboards: dict[str, str], family_email: str | None
) -> dict[str, Any]:
    first = p.first
    roll = rng.random()
    if roll < 0.15 and p.first in NICK:
        first = NICK[p.first]
    elif roll < 0.25:
        first = _typo(rng, first)
    last = _typo(rng, p.last) if rng.random() < 0.08 else p.last
    if rng.random() < 0.1:
        first, last = first.upper(), last.upper()
    emails, phones = [], []
    if rng.random() < 0.8:
        email = family_email or p.email
        emails.append(rng.choice([email, email.upper(), f"  {email.title()} "]))
    if rng.random() < 0.75:
        phones.append(_spell_phone(rng, p.phone))
    if rng.random() < 0.2:
        phones.append(_spell_phone(rng, switchboards[p.company]))  # the office number
    data: dict[str, Any] = {
        "first_name": first,
        "last_name": last,
        "emails": emails,
        "phones": phones,
    }
    if rng.random() < 0.7:
        data["company"] = rng.choice([p.company, p.company + " Inc", p.company.upper()])
    return data
