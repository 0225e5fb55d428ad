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

from sqlalchemy import select, text, tuple_
from sqlalchemy.orm import Session

from hub.store.models import Contact, Identifier, new_contact_id

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
    The locks are taken in sorted order in one statement (a target list is evaluated
    left to right; two sorted sets cannot deadlock) and released at commit. SQLite
    needs none: one writer at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    ordered = sorted({_lock_key(kind, value) for kind, value in keys})
    if not ordered:
        return
    calls = ", ".join(f"pg_advisory_xact_lock(:k{i})" for i in range(len(ordered)))
    session.execute(text(f"SELECT {calls}"), {f"k{i}": k for i, k in enumerate(ordered)})


def _lock_key(kind: str, value: str) -> int:
    digest = hashlib.blake2b(f"{kind}\x00{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def find_contacts(session: Session, kind: str, value: str) -> list[str]:
    """Ids of live contacts holding ``kind:value`` (merged ones follow their survivor)."""
    return holders_by_key(session, [(kind, value)]).get((kind, value), [])


def holders_by_key(
    session: Session, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """For each key, the live contacts holding it, in one query."""
    unique = list(dict.fromkeys(keys))
    if not unique:
        return {}
    rows = session.execute(
        select(Identifier.kind, Identifier.value, Identifier.contact_id, Contact.merged_into_id)
        .join(Contact, Contact.id == Identifier.contact_id)
        .where(tuple_(Identifier.kind, Identifier.value).in_(unique))
    ).all()
    found: dict[tuple[str, str], set[str]] = {}
    for kind, value, contact, merged in rows:
        found.setdefault((kind, value), set()).add(merged or contact)
    return {key: sorted(ids) for key, ids in found.items()}


def _conflicted(
    session: Session, contact_ids: set[str], keys: Sequence[tuple[str, str]]
) -> set[str]:
    """Contacts that already hold a different value of an exclusive kind.

    A contact holds at most one record of each (connector, object type): two records
    the source itself keeps apart are two people, whatever phone they share (the
    per-identifier limit Segment's identity rules express as "max 1 user_id").
    """
    exclusive = {k: v for k, v in keys if k.startswith(EXCLUSIVE_PREFIX)}
    if not exclusive or not contact_ids:
        return set()
    held = session.execute(
        select(Identifier.contact_id, Identifier.kind, Identifier.value).where(
            Identifier.contact_id.in_(contact_ids), Identifier.kind.in_(list(exclusive))
        )
    ).all()
    return {contact for contact, kind, value in held if value != exclusive[kind]}


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
    markers = [(UNRESOLVED_PREFIX + k, v) for k, v in usable] if reuse_unresolved else []
    holders = holders_by_key(session, [*usable, *markers])
    conflicted = _conflicted(session, {c for k in usable for c in holders.get(k, [])}, usable)
    ambiguous: list[tuple[str, str]] = []
    for key in sorted(usable, key=lambda kv: _rank(kv[0])):
        candidates = [h for h in holders.get(key, []) if h not in conflicted]
        if len(candidates) == 1:
            contact = session.get(Contact, candidates[0])
            if contact is not None:
                return Resolution(contact, created=False, matched_on=key, ambiguous=ambiguous)
        elif len(candidates) > 1:
            ambiguous.append(key)
    extra: list[tuple[str, str]] = []
    if reuse_unresolved and ambiguous:
        marker = (UNRESOLVED_PREFIX + ambiguous[0][0], ambiguous[0][1])
        stub = holders.get(marker, [])
        if stub and (contact := session.get(Contact, stub[0])) is not None:
            return Resolution(contact, created=False, matched_on=marker, ambiguous=ambiguous)
        extra.append(marker)
    contact = Contact(id=new_contact_id(), attributes={}, lineage={})
    session.add(contact)
    return Resolution(contact, created=True, ambiguous=ambiguous, extra_keys=extra)


def attach_identifiers(
    session: Session,
    contact: Contact,
    keys: Iterable[tuple[str, str]],
    *,
    connector: str,
    new_contact: bool = False,
) -> None:
    """Index ``keys`` under ``contact`` (idempotent; junk values are skipped).

    One query reads what the contact already holds (none for a contact created in this
    transaction), then the missing keys are added; the caller flushes.
    """
    wanted = [key for key in dict.fromkeys(keys) if not is_junk(*key)]
    if not wanted:
        return
    held: set[tuple[str, str]] = set()
    if not new_contact:
        held = {
            (kind, value)
            for kind, value in session.execute(
                select(Identifier.kind, Identifier.value).where(
                    Identifier.contact_id == contact.id,
                    tuple_(Identifier.kind, Identifier.value).in_(wanted),
                )
            )
        }
    session.add_all(
        Identifier(kind=kind, value=value, contact_id=contact.id, source_connector=connector)
        for kind, value in wanted
        if (kind, value) not in held
    )
