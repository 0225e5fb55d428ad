"""Deterministic, realistic org data: the same seed and anchor give the same records.

Names, companies, e-mails and phone numbers come from several countries, and the
phone numbers use the formats people actually type into a CRM (``(415) 555-0132``,
``+44 20 7946 0958``, ``030 12345678``, ``+5511912345678``...), because matching a
caller to a record is the hub's main job. Timestamps spread over the year before
the anchor, with deliberate bursts of identical ``SystemModstamp`` values (a bulk
edit) so cursor tie-breaking gets exercised. 100k records take about a second.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from .ids import make_id
from .schema import SObjectType
from .store import Record, Store

DEFAULT_COUNTS = {
    "User": 5,
    "Account": 40,
    "Contact": 200,
    "Lead": 80,
    "Case": 60,
    "Task": 150,
    "Event": 40,
}
HISTORY_SECONDS = 365 * 24 * 3600

# (country, first names, last names, city, phone formats: "#" is a random digit)
_LOCALES: list[tuple[str, tuple[str, ...], tuple[str, ...], str, tuple[str, ...]]] = [
    (
        "United States",
        ("James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "Linda"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller"),
        "San Francisco",
        ("(415) 555-0###", "+1 415-555-0###", "415.555.0###", "+1415555####"),
    ),
    (
        "United Kingdom",
        ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava"),
        ("Taylor", "Davies", "Evans", "Thomas", "Roberts", "O'Brien"),
        "London",
        ("+44 20 7946 0###", "020 7946 0###", "+44 7700 900###", "07700 900###"),
    ),
    (
        "Germany",
        ("Lukas", "Mia", "Jonas", "Hannah", "Leon", "Sophie"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Wagner"),
        "Berlin",
        ("+49 30 ########", "030 ########", "+49 151 ########", "0151 ########"),
    ),
    (
        "France",
        ("Gabriel", "Louise", "Raphaël", "Emma", "Léo", "Jade"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Lefèvre"),
        "Paris",
        ("+33 1 ## ## ## ##", "01 ## ## ## ##", "+33 6 ## ## ## ##", "06########"),
    ),
    (
        "Brazil",
        ("Miguel", "Helena", "Arthur", "Alice", "Heitor", "Laura"),
        ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira"),
        "São Paulo",
        ("+55 11 9####-####", "(11) 9####-####", "+55119########"),
    ),
    (
        "India",
        ("Aarav", "Saanvi", "Vihaan", "Ananya", "Arjun", "Diya"),
        ("Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy"),
        "Bengaluru",
        ("+91 98### #####", "098### #####", "+9180########"),
    ),
    (
        "Japan",
        ("Haruto", "Yui", "Sota", "Hina", "Ren", "Aoi"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito"),
        "Tokyo",
        ("+81 3-####-####", "03-####-####", "+81 90-####-####"),
    ),
    (
        "Australia",
        ("Jack", "Charlotte", "William", "Olivia", "Noah", "Mia"),
        ("Smith", "Jones", "Williams", "Brown", "Wilson", "Nguyen"),
        "Sydney",
        ("+61 2 #### ####", "(02) #### ####", "+61 4## ### ###", "04## ### ###"),
    ),
]
#: A large org's numbers cannot all sit in the fictional ranges above (555-01xx,
#: 7946 0xxx, 7700 900xxx hold a thousand numbers each): a million contacts drawn from
#: them would share each number ~170 times, where a real org's numbers are nearly all
#: its own. Seeds of more than PEOPLE_PER_SPREAD people use these wider (valid) patterns
#: and more e-mail suffixes; smaller seeds, every test's, are unchanged.
_WIDE_PHONES = {
    "(415) 555-0###": "(415) 2##-####",
    "+1 415-555-0###": "+1 415-2##-####",
    "415.555.0###": "415.2##.####",
    "+1415555####": "+14152######",
    "+44 20 7946 0###": "+44 20 7### ####",
    "020 7946 0###": "020 7### ####",
    "+44 7700 900###": "+44 77## ######",
    "07700 900###": "077## ######",
}
PEOPLE_PER_SPREAD = 50_000
_COMPANY_WORDS = (
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Hooli",
    "Vandelay",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka",
    "Gringotts",
    "Oceanic",
    "Dunder",
)
_COMPANY_SUFFIX = ("Inc.", "Ltd", "GmbH", "S.A.", "LLC", "Pty Ltd", "K.K.", "Group")
_INDUSTRIES = ("Telecommunications", "Banking", "Retail", "Healthcare", "Insurance", "Energy")
_SUBJECTS = (
    "Billing question",
    "Cannot log in",
    "Delivery delayed",
    "Refund request",
    "Update address",
    "Product defect",
    "Cancel subscription",
    "Upgrade plan",
)
_MAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example", "corp.example")
_ASCII = str.maketrans("üéèëäöçãáíóúñ'ê", "ueeeaocaaiounie")


class _Gen:
    """One seeding run: a seeded RNG, the anchor time and the ids generated so far."""

    def __init__(self, store: Store, seed: int, anchor: datetime, people: int = 0) -> None:
        self.store = store
        self.rng = random.Random(seed)  # noqa: S311 - test data, not security
        self.anchor = anchor.replace(microsecond=0)
        self.ids: dict[str, list[str]] = {}
        self.burst: datetime | None = None
        #: How much wider than a small org's the value space of e-mails and phones is.
        self.spread = max(1, people // PEOPLE_PER_SPREAD)

    def digits(self, pattern: str) -> str:
        rand = self.rng.randrange
        return "".join(str(rand(10)) if c == "#" else c for c in pattern)

    def stamps(self) -> tuple[datetime, datetime]:
        """(CreatedDate, SystemModstamp); ~5% share a burst modstamp with a neighbour."""
        created = self.anchor - timedelta(seconds=self.rng.randrange(HISTORY_SECONDS))
        if self.burst is not None and self.burst >= created and self.rng.random() < 0.05:
            return created, self.burst
        span = int((self.anchor - created).total_seconds())
        modified = created + timedelta(seconds=self.rng.randrange(span + 1))
        self.burst = modified
        return created, modified

    def base(self, sobject: SObjectType, n: int) -> Record:
        created, modified = self.stamps()
        owner = self.pick("User")
        row: Record = {f.name: None for f in sobject.fields}
        row.update(
            {
                "Id": make_id(sobject.key_prefix, n),
                "CreatedDate": created,
                "LastModifiedDate": modified,
                "SystemModstamp": modified,
            }
        )
        for key in ("OwnerId", "CreatedById", "LastModifiedById"):
            if key in row:
                row[key] = owner
        if "IsDeleted" in row:
            row["IsDeleted"] = False
        return row

    def pick(self, type_name: str) -> str | None:
        pool = self.ids.get(type_name)
        return pool[self.rng.randrange(len(pool))] if pool else None

    def person(self) -> dict[str, Any]:
        country, firsts, lasts, city, phones = _LOCALES[self.rng.randrange(len(_LOCALES))]
        first, last = self.rng.choice(firsts), self.rng.choice(lasts)
        local = f"{first}.{last}".lower().translate(_ASCII)
        email = f"{local}{self.rng.randrange(100 * self.spread)}@{self.rng.choice(_MAIL_DOMAINS)}"
        if self.spread > 1:
            phones = tuple(_WIDE_PHONES.get(pattern, pattern) for pattern in phones)
        return {
            "FirstName": first,
            "LastName": last,
            "country": country,
            "city": city,
            "Email": email if self.rng.random() < 0.9 else None,
            "Phone": self.digits(self.rng.choice(phones)) if self.rng.random() < 0.85 else None,
            "MobilePhone": self.digits(self.rng.choice(phones))
            if self.rng.random() < 0.5
            else None,
        }

    def company(self) -> str:
        return f"{self.rng.choice(_COMPANY_WORDS)} {self.rng.choice(_COMPANY_SUFFIX)}"


def _user(g: _Gen, row: Record, n: int) -> None:
    p = g.person()
    row.update(
        {
            "FirstName": p["FirstName"],
            "LastName": p["LastName"],
            "IsActive": True,
            "Email": f"agent{n}@threadline.example",
            "Username": f"agent{n}@threadline.example",
        }
    )


def _account(g: _Gen, row: Record, n: int) -> None:
    country, _, _, city, phones = _LOCALES[g.rng.randrange(len(_LOCALES))]
    row.update(
        {
            "Name": f"{g.company()} {n}",
            "Industry": g.rng.choice(_INDUSTRIES),
            "Type": g.rng.choice(("Prospect", "Customer - Direct", "Partner")),
            "Phone": g.digits(g.rng.choice(phones)),
            "BillingCity": city,
            "BillingCountry": country,
            "NumberOfEmployees": g.rng.randrange(5, 50000),
            "AccountNumber": f"CC{g.rng.randrange(10**6):06d}",
            "Website": f"https://www.{g.company().split()[0].lower()}{n}.example",
        }
    )


def _contact(g: _Gen, row: Record, n: int) -> None:
    p = g.person()
    row.update({k: p[k] for k in ("FirstName", "LastName", "Email", "Phone", "MobilePhone")})
    row.update(
        {
            "AccountId": g.pick("Account") if g.rng.random() < 0.8 else None,
            "MailingCity": p["city"],
            "MailingCountry": p["country"],
            "Title": g.rng.choice(("CEO", "Buyer", "IT Manager", None, "Engineer")),
            "LeadSource": g.rng.choice(("Web", "Phone Inquiry", None)),
            "HasOptedOutOfEmail": g.rng.random() < 0.1,
            "DoNotCall": g.rng.random() < 0.05,
            "Threadline_Key__c": None,
        }
    )


def _lead(g: _Gen, row: Record, n: int) -> None:
    p = g.person()
    row.update({k: p[k] for k in ("FirstName", "LastName", "Email", "Phone", "MobilePhone")})
    row.update(
        {
            "Company": g.company(),
            "City": p["city"],
            "Country": p["country"],
            "Status": g.rng.choice(("Open - Not Contacted", "Working - Contacted")),
            "LeadSource": g.rng.choice(("Web", "Purchased List", "Other")),
            "IsConverted": False,
        }
    )


def _case(g: _Gen, row: Record, n: int) -> None:
    contact_id = g.pick("Contact")
    contact = g.store.records["Contact"].get(contact_id or "")
    status = g.rng.choice(("New", "Working", "Escalated", "Closed"))
    row.update(
        {
            "CaseNumber": f"{n:08d}",
            "ContactId": contact_id,
            "AccountId": contact.get("AccountId") if contact else None,
            "Subject": g.rng.choice(_SUBJECTS),
            "Status": status,
            "Priority": g.rng.choice(("High", "Medium", "Low")),
            "Origin": g.rng.choice(("Phone", "Email", "Web", "Chat")),
            "ClosedDate": row["SystemModstamp"] if status == "Closed" else None,
        }
    )


def _activity_links(g: _Gen, row: Record) -> None:
    who_type = "Contact" if g.rng.random() < 0.8 else "Lead"
    row["WhoId"] = g.pick(who_type)
    if who_type == "Contact" and g.rng.random() < 0.5:
        row["WhatId"] = g.pick("Case") if g.rng.random() < 0.5 else g.pick("Account")


def _task(g: _Gen, row: Record, n: int) -> None:
    _activity_links(g, row)
    call = g.rng.random() < 0.7
    row.update(
        {
            "Subject": "Call" if call else g.rng.choice(_SUBJECTS),
            "Status": "Completed" if call else g.rng.choice(("Not Started", "In Progress")),
            "Priority": "Normal",
            "TaskSubtype": "Call" if call else "Task",
            "ActivityDate": row["CreatedDate"].date(),
        }
    )
    if call:
        row.update(
            {
                "CallType": g.rng.choice(("Inbound", "Outbound")),
                "CallDurationInSeconds": g.rng.randrange(5, 3600),
                "CallObject": f"CA{g.rng.getrandbits(128):032x}",
                "CallDisposition": g.rng.choice(("Resolved", "Voicemail", "Callback")),
            }
        )


def _event(g: _Gen, row: Record, n: int) -> None:
    _activity_links(g, row)
    start = row["CreatedDate"] + timedelta(days=g.rng.randrange(1, 14), hours=1)
    duration = g.rng.choice((15, 30, 60))
    row.update(
        {
            "Subject": g.rng.choice(("Follow-up call", "Demo", "Onboarding")),
            "StartDateTime": start,
            "EndDateTime": start + timedelta(minutes=duration),
            "DurationInMinutes": duration,
            "IsAllDayEvent": False,
            "ShowAs": "Busy",
            "Location": g.rng.choice((None, "Phone", "Video")),
        }
    )


_FILLERS: dict[str, Callable[[_Gen, Record, int], None]] = {
    "User": _user,
    "Account": _account,
    "Contact": _contact,
    "Lead": _lead,
    "Case": _case,
    "Task": _task,
    "Event": _event,
}


def seed_store(
    store: Store,
    seed: int,
    counts: dict[str, int],
    anchor: datetime,
    integration_user: tuple[str, str] | None = None,
) -> None:
    """Fill ``store`` with ``counts`` records per type (users first, then parents).

    ``integration_user`` (id, username) becomes user #1, the one that logs in.
    """
    g = _Gen(store, seed, anchor, people=counts.get("Contact", 0) + counts.get("Lead", 0))
    for type_name in _FILLERS:
        count = counts.get(type_name, 0)
        if type_name == "User":
            count = max(count, 1)
        sobject = store.type_named(type_name)
        if sobject is None or count <= 0:
            continue
        rows = []
        for n in range(1, count + 1):
            row = g.base(sobject, n)
            _FILLERS[type_name](g, row, n)
            rows.append(row)
        if type_name == "User" and integration_user is not None:
            rows[0].update(
                {
                    "Id": integration_user[0],
                    "Username": integration_user[1],
                    "FirstName": "Integration",
                    "LastName": "User",
                    "Email": integration_user[1],
                }
            )
        g.ids[type_name] = [r["Id"] for r in rows]
        store.bulk_insert(sobject, rows)
        store.reserve_ids(sobject, count)
