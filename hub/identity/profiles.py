"""What candidate scoring knows of a contact (:class:`Profile`), how it is read, and
the score of two profiles (hub/identity/candidates.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.identity.similarity import (
    company_similarity,
    email_similarity,
    name_similarity,
    phone_similarity,
)
from hub.store.models import Contact, Identifier


@dataclass(frozen=True)
class Profile:
    """What scoring reads of one contact."""

    id: str
    first: str
    last: str
    company: str | None
    phones: frozenset[str]
    emails: frozenset[str]


def _names(contact: Any) -> tuple[str, str]:
    first, last = contact.first_name or "", contact.last_name or ""
    if not last and contact.display_name and " " in contact.display_name.strip():
        first, last = contact.display_name.strip().rsplit(" ", 1)
    return first, last


def score(
    a: Profile, b: Profile, ambiguous: frozenset[str] = frozenset()
) -> tuple[float, dict[str, Any]]:
    """The probability-like score that ``a`` and ``b`` are one person, and why.

    Values in ``ambiguous`` (held by more than K contacts: a switchboard, info@) are
    no evidence at all."""
    name = name_similarity(a.first, a.last, b.first, b.last)
    company = company_similarity(a.company, b.company)
    phone = phone_similarity(a.phones - ambiguous, b.phones - ambiguous)
    email = email_similarity(a.emails - ambiguous, b.emails - ambiguous)
    total = 0.6 * name + 0.15 * (company or 0.0) + 0.15 * phone + 0.15 * email
    if company is not None and company == 0.0:
        total -= 0.1  # two different employers is evidence against
    if name < 0.75:
        total = min(total, 0.5)  # never a candidate on contact details alone
    reasons = {"name": round(name, 3), "company": company, "phone": phone, "email": email}
    return round(max(0.0, min(1.0, total)), 4), reasons


def load_profiles(session: Session, ids: Iterable[str]) -> dict[str, Profile]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    # Plain rows of the few columns scoring reads: ORM objects cost more than the query.
    # Merged contacts and other kinds of identifiers are dropped here, not in SQL: with
    # ``merged_into_id IS NULL`` (or ``kind IN``) SQLite walks that index, every live
    # contact (or every phone and e-mail), instead of seeking the ids.
    contacts = {
        c.id: c
        for start in range(0, len(wanted), 500)
        for c in session.execute(
            select(
                Contact.id,
                Contact.first_name,
                Contact.last_name,
                Contact.display_name,
                Contact.company,
                Contact.merged_into_id,
            ).where(Contact.id.in_(wanted[start : start + 500]))
        )
        if c.merged_into_id is None
    }
    keys: dict[str, dict[str, set[str]]] = {c: {"phone": set(), "email": set()} for c in contacts}
    listed = list(contacts)
    for start in range(0, len(listed), 500):
        for cid, kind, value in session.execute(
            select(Identifier.contact_id, Identifier.kind, Identifier.value).where(
                Identifier.contact_id.in_(listed[start : start + 500])
            )
        ):
            if kind in ("phone", "email"):
                keys[cid][kind].add(value)
    out = {}
    for cid, contact in contacts.items():
        first, last = _names(contact)
        out[cid] = Profile(
            cid,
            first,
            last,
            contact.company,
            frozenset(keys[cid]["phone"]),
            frozenset(keys[cid]["email"]),
        )
    return out
