"""Which Salesforce objects Threadline reads, and the SOQL it sends for them.

Provider facts as data (Nango's habit): one :class:`SObjectSpec` per object says the
API name, the Threadline object type (which selects ``mappings/salesforce/<type>.yaml``),
the stream name and the fields queried. The field lists are exactly what the mapping
files use plus the cursor fields, so the connector never reads more personal data than
it maps. Custom fields are added per stream from config (``extra_fields``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

#: Salesforce ids are 15 (case-sensitive) or 18 (case-safe) alphanumerics; anything else
#: is never put into a SOQL literal, so a crafted webhook cannot inject SOQL.
ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
#: API names of standard fields, custom fields (``__c``) and one-level parent paths.
FIELD_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)?$")

_CURSOR_FIELDS = ("Id", "SystemModstamp", "LastModifiedDate", "CreatedDate")
_ACTIVITY = ("WhoId", "WhatId", "Subject", "Description", "OwnerId", "AccountId")


@dataclass(frozen=True)
class SObjectSpec:
    """One Salesforce object as Threadline reads it."""

    sobject: str
    object_type: str
    stream: str
    fields: tuple[str, ...]

    def select_fields(self, extra: Iterable[str] = ()) -> list[str]:
        """Cursor fields, declared fields and configured extras, without duplicates."""
        seen: dict[str, None] = {}
        for name in (*_CURSOR_FIELDS, *self.fields, *extra):
            seen.setdefault(name, None)
        return list(seen)


SPECS: tuple[SObjectSpec, ...] = (
    SObjectSpec(
        "Contact",
        "contact",
        "contacts",
        (
            "FirstName",
            "LastName",
            "Name",
            "Title",
            "Email",
            "Phone",
            "MobilePhone",
            "HomePhone",
            "AccountId",
            "Account.Name",
            "MailingCountry",
        ),
    ),
    SObjectSpec(
        "Lead",
        "lead",
        "leads",
        (
            "FirstName",
            "LastName",
            "Name",
            "Company",
            "Title",
            "Email",
            "Phone",
            "MobilePhone",
            "Status",
            "Country",
            "IsConverted",
        ),
    ),
    SObjectSpec(
        "Account",
        "account",
        "accounts",
        ("Name", "AccountNumber", "Type", "Industry", "Phone", "Website", "BillingCountry"),
    ),
    SObjectSpec(
        "Case",
        "case",
        "cases",
        (
            "CaseNumber",
            "ContactId",
            "AccountId",
            "Subject",
            "Status",
            "Priority",
            "Origin",
            "Type",
            "SuppliedEmail",
            "SuppliedPhone",
            "IsClosed",
            "ClosedDate",
            "OwnerId",
        ),
    ),
    SObjectSpec(
        "Task",
        "task",
        "tasks",
        (
            *_ACTIVITY,
            "ActivityDate",
            "Status",
            "Priority",
            "TaskSubtype",
            "CallType",
            "CallDurationInSeconds",
            "CallObject",
            "CallDisposition",
            "IsClosed",
        ),
    ),
    SObjectSpec(
        "Event",
        "event",
        "events",
        (
            *_ACTIVITY,
            "StartDateTime",
            "EndDateTime",
            "DurationInMinutes",
            "Location",
            "IsAllDayEvent",
        ),
    ),
)
BY_SOBJECT: dict[str, SObjectSpec] = {s.sobject.lower(): s for s in SPECS}
BY_STREAM: dict[str, SObjectSpec] = {s.stream: s for s in SPECS}

#: Key prefixes of the two objects an activity's WhoId can point at (Object Reference:
#: "WhoId … a Contact or a Lead"); 003 is Contact, 00Q is Lead.
WHO_PREFIXES = {"003": "contact", "00Q": "lead"}


def spec_for(sobject: str) -> SObjectSpec | None:
    """The spec of an sObject API name (case-insensitive), or None when not synced."""
    return BY_SOBJECT.get(sobject.lower())


def soql_datetime(value: datetime) -> str:
    """A SOQL datetime literal: unquoted, UTC, ``2024-01-01T00:00:00Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def soql_id_list(ids: Iterable[str]) -> str:
    """``('a','b')`` for ``Id IN``; raises ValueError on anything not shaped like an id."""
    checked = []
    for value in ids:
        if not ID_RE.match(value):
            raise ValueError("not a Salesforce id")
        checked.append(f"'{value}'")
    return "(" + ",".join(checked) + ")"


def enrich(spec: SObjectSpec, record: Mapping[str, Any]) -> dict[str, Any]:
    """A query record made ready for its mapping file.

    ``attributes`` is dropped. Activities get ``WhoContactId`` / ``WhoLeadId`` from the
    polymorphic ``WhoId`` (by key prefix), so a mapping can link the interaction to
    ``record:contact`` or ``record:lead``; ``IsCall`` marks telephony activities
    (``CallType`` set, or ``TaskSubtype`` Call) so the mapping can make them voice.
    """
    data = {k: v for k, v in record.items() if k != "attributes"}
    for key, value in list(data.items()):
        if isinstance(value, Mapping):  # a parent path such as Account.Name
            data[key] = {k: v for k, v in value.items() if k != "attributes"}
    if spec.sobject in ("Task", "Event"):
        who = str(data.get("WhoId") or "")
        kind = WHO_PREFIXES.get(who[:3])
        data["WhoContactId"] = who if kind == "contact" else None
        data["WhoLeadId"] = who if kind == "lead" else None
        is_call = bool(data.get("CallType")) or data.get("TaskSubtype") == "Call"
        data["Channel"] = "voice" if is_call else "crm-activity"
        direction = str(data.get("CallType") or "").lower()
        data["Direction"] = (
            direction
            if direction in ("inbound", "outbound", "internal")
            else ("outbound" if is_call else "internal")
        )
    return data


#: Prefix of the idempotency digest the pop target writes on its Tasks.
POP_MARKER = "threadline:"


def is_own_pop(spec: SObjectSpec, row: Mapping[str, Any], key_field: str) -> bool:
    """A Task Threadline itself created for a pop: not read back as an interaction, or
    every pop would add its own summary to the timeline the next pop summarises."""
    return spec.sobject == "Task" and str(row.get(key_field) or "").startswith(POP_MARKER)
