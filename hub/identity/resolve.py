"""Deterministic, real-time identity resolution.

Order of evidence: the source record's own link (``record:<connector>:<type>``; the
same Salesforce Contact is always the same customer), then namespaced keys
(``key:customer_number``), then e-mail, then phone. A value that is junk
(``test@test.com``, ``0000000``) or already held by more than one contact (a
switchboard, info@) is ambiguous and never joins records. This module links; it never
merges two existing contacts (merges are explicit, explainable and reversible).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from hub.store.models import Contact, Identifier

KIND_PRIORITY = ("record:", "key:", "email", "phone")
EXCLUSIVE_PREFIX = "record:"
UNRESOLVED_PREFIX = "unresolved:"
JUNK_VALUES = {
    "email": {"test@test.com", "noreply@example.com", "no-reply@example.com", "a@a.com"},
    "phone": {"+10000000000", "+11111111111", "+15555555555"},
}


@dataclass
class Resolution:
    """The contact chosen, and why (kept for the merge explanation and lineage)."""

    contact: Contact
    created: bool
    matched_on: tuple[str, str] | None = None
    ambiguous: list[tuple[str, str]] = field(default_factory=list)
    #: Keys the caller must index on the new contact (the "unresolved" marker).
    extra_keys: list[tuple[str, str]] = field(default_factory=list)


def _rank(kind: str) -> int:
    for index, prefix in enumerate(KIND_PRIORITY):
        if kind.startswith(prefix):
            return index
    return len(KIND_PRIORITY)


def is_junk(kind: str, value: str) -> bool:
    """Placeholder values that must never identify anyone."""
    if value in JUNK_VALUES.get(kind, set()):
        return True
    if kind == "phone":
        digits = value.lstrip("+")
        return len(set(digits[-7:])) <= 1
    return value.strip().lower() in {"unknown", "none", "null", "n/a", "-"}


def lock_identifiers(session: Session, keys: Iterable[tuple[str, str]]) -> None:
    """Serialise concurrent resolutions of the same values across workers (PostgreSQL).

    Without it two workers seeing a new caller at once would each create a contact.
    Locks are taken in sorted order (no deadlock between two sorted sets) and released
    at commit. SQLite needs none: one writer at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for kind, value in sorted(set(keys)):
        digest = hashlib.blake2b(f"{kind}\x00{value}".encode(), digest_size=8).digest()
        session.execute(
            text("SELECT pg_advisory_xact_lock(:k)"),
            {"k": int.from_bytes(digest, "big", signed=True)},
        )


def find_contacts(session: Session, kind: str, value: str) -> list[str]:
    """Ids of live contacts holding ``kind:value`` (merged ones follow their survivor)."""
    rows = session.execute(
        select(Identifier.contact_id, Contact.merged_into_id)
        .join(Contact, Contact.id == Identifier.contact_id)
        .where(Identifier.kind == kind, Identifier.value == value)
    ).all()
    return sorted({merged or contact for contact, merged in rows})


def _conflicts(session: Session, contact_id: str, keys: Sequence[tuple[str, str]]) -> bool:
    """True when the contact already holds a different value of an exclusive kind.

    A contact holds at most one record of each (connector, object type): two records
    the source itself keeps apart are two people, whatever phone they share (the
    per-identifier limit Segment's identity rules express as "max 1 user_id").
    """
    exclusive = {k: v for k, v in keys if k.startswith(EXCLUSIVE_PREFIX)}
    if not exclusive:
        return False
    held = session.execute(
        select(Identifier.kind, Identifier.value).where(
            Identifier.contact_id == contact_id, Identifier.kind.in_(list(exclusive))
        )
    ).all()
    return any(value != exclusive[kind] for kind, value in held)


def resolve_contact(
    session: Session,
    keys: Sequence[tuple[str, str]],
    *,
    reuse_unresolved: bool = False,
) -> Resolution:
    """Find the contact these identifiers point at, or create one.

    Args:
        keys: ``(kind, normalised value)`` pairs from the mapped record.
        reuse_unresolved: for interactions: when the only evidence is ambiguous (a
            switchboard number held by several people), file the interaction under
            one "unresolved" contact per value instead of a new contact per call.
    """
    usable = [(k, v) for k, v in keys if not is_junk(k, v)]
    lock_identifiers(session, usable)
    ambiguous: list[tuple[str, str]] = []
    for kind, value in sorted(usable, key=lambda kv: _rank(kv[0])):
        holders = [
            h for h in find_contacts(session, kind, value) if not _conflicts(session, h, usable)
        ]
        if len(holders) == 1:
            contact = session.get(Contact, holders[0])
            if contact is not None:
                return Resolution(
                    contact, created=False, matched_on=(kind, value), ambiguous=ambiguous
                )
        elif len(holders) > 1:
            ambiguous.append((kind, value))
    extra: list[tuple[str, str]] = []
    if reuse_unresolved and ambiguous:
        marker = (UNRESOLVED_PREFIX + ambiguous[0][0], ambiguous[0][1])
        stub = find_contacts(session, *marker)
        if stub and (contact := session.get(Contact, stub[0])) is not None:
            return Resolution(contact, created=False, matched_on=marker, ambiguous=ambiguous)
        extra.append(marker)
    contact = Contact()
    session.add(contact)
    session.flush()
    return Resolution(contact, created=True, ambiguous=ambiguous, extra_keys=extra)


def attach_identifiers(
    session: Session,
    contact: Contact,
    keys: Iterable[tuple[str, str]],
    *,
    connector: str,
) -> None:
    """Index ``keys`` under ``contact`` (idempotent; junk values are skipped)."""
    for kind, value in keys:
        if is_junk(kind, value):
            continue
        exists = session.scalar(
            select(func.count())
            .select_from(Identifier)
            .where(
                Identifier.kind == kind,
                Identifier.value == value,
                Identifier.contact_id == contact.id,
            )
        )
        if exists:
            continue
        session.add(
            Identifier(kind=kind, value=value, contact_id=contact.id, source_connector=connector)
        )
    session.flush()
