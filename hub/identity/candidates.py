"""Candidates: contacts that may be one person, scored, stored, never merged alone.

Blocking keeps it cheap: a contact is compared only with contacts of the same last
name (any case) or of the same first name (nicknames included) whose last name starts
with the same three letters, at most ``BLOCK_LIMIT`` of each, through the name
indexes, and only with those whose names are alike enough to ever score. The
score weighs name similarity with company, phone and e-mail evidence; a score at or
above ``hub.identity.candidates.threshold`` is stored as a candidate (shown in the
context API's ``match.candidates``), below it any open candidate of the pair goes.
Rejected pairs are never suggested again; confirming merges them
(:func:`decide_candidate`).

The candidate set depends only on the contacts' current fields and identifiers, not
on the order records arrived in, so the bulk path and the per-record path agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from hub.identity.rules import DEFAULT_RULES, IdentityRules
from hub.identity.similarity import (
    company_similarity,
    email_similarity,
    fold,
    name_similarity,
    nickname_variants,
    phone_similarity,
)
from hub.leases import insert_ignoring_duplicates
from hub.store.coltypes import utcnow
from hub.store.models import Contact, Identifier, MatchCandidate

BLOCK_LIMIT = 100
#: Rows read per block query (no ORDER BY, so the name index serves it); the lowest
#: BLOCK_LIMIT ids of them are kept. Above SCAN_LIMIT namesakes the block is a sample.
SCAN_LIMIT = 1000


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


def _profiles(session: Session, ids: Iterable[str]) -> dict[str, Profile]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    # Plain rows of the few columns scoring reads: ORM objects cost more than the query.
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
            ).where(Contact.id.in_(wanted[start : start + 500]), Contact.merged_into_id.is_(None))
        )
    }
    keys: dict[str, dict[str, set[str]]] = {c: {"phone": set(), "email": set()} for c in contacts}
    listed = list(contacts)
    for start in range(0, len(listed), 500):
        for cid, kind, value in session.execute(
            select(Identifier.contact_id, Identifier.kind, Identifier.value).where(
                Identifier.contact_id.in_(listed[start : start + 500]),
                Identifier.kind.in_(["phone", "email"]),
            )
        ):
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


@lru_cache(maxsize=65536)
@lru_cache(maxsize=65536)
def _spellings(name: str) -> tuple[str, ...]:
    return tuple(sorted({name, name.lower(), name.upper(), name.title(), name.capitalize()}))


_BLOCK_COLUMNS = (Contact.id, Contact.first_name, Contact.last_name, Contact.merged_into_id)
#: The block statements are built once: building a SELECT per contact cost more than
#: running it.
_LAST_NAME_BLOCK = (
    select(*_BLOCK_COLUMNS)
    .where(Contact.last_name.in_(bindparam("names", expanding=True)))
    .limit(SCAN_LIMIT)
)


def _prefix_bounds(prefixes: Sequence[str]) -> dict[str, str]:
    """``last_name`` starts with one of ``prefixes``, as ranges an index can serve (LIKE
    is case-insensitive on SQLite and collation-bound on PostgreSQL: neither uses it)."""
    bounds = {}
    for n, prefix in enumerate(prefixes):
        bounds[f"lo{n}"] = prefix
        bounds[f"hi{n}"] = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return bounds


@lru_cache(maxsize=8)
def _first_name_block(prefixes: int) -> Any:
    ranges = [
        (Contact.last_name >= bindparam(f"lo{n}")) & (Contact.last_name < bindparam(f"hi{n}"))
        for n in range(prefixes)
    ]
    return (
        select(*_BLOCK_COLUMNS)
        .where(Contact.first_name.in_(bindparam("firsts", expanding=True)), or_(*ranges))
        .limit(SCAN_LIMIT)
    )


@lru_cache(maxsize=65536)
def _first_spellings(first: str) -> tuple[str, ...]:
    return tuple(sorted({s for v in nickname_variants(first) for s in _spellings(v)}))


def _first_block(first: str, last: str, p: Profile) -> bool:
    """The first-name block seen from the other side, so blocking is symmetric (a
    pair is found whichever of the two is touched)."""
    return (
        len(last.strip()) >= 3
        and p.first in _first_spellings(first)
        and any(p.last.startswith(x) for x in _spellings(last.strip()[:3]))
    )


def _by_id(row: Any) -> str:
    return str(row[0])


def _blocks(session: Session, profiles: Sequence[Profile], threshold: float) -> dict[str, set[str]]:
    """For each profile, the contacts worth scoring against it: the same last name
    (any case), or the same first name (nicknames included) with a last name that
    starts with the same three letters; at most ``BLOCK_LIMIT`` of each (lowest ids,
    through the name indexes), less those whose name alone rules them out (names
    less than 0.75 alike never score above 0.5). Both blocks are checked from the
    other side too, so a pair is found whichever of the two is touched."""
    out: dict[str, set[str]] = {}
    # Merged contacts are dropped here, not in SQL: ``merged_into_id IS NULL`` holds
    # for nearly every row, yet SQLite's planner prefers its index to the name's.
    for p in profiles:
        found: set[str] = set()
        last = p.last.strip()
        if not last:
            out[p.id] = found
            continue
        rows = [
            r
            for r in session.execute(_LAST_NAME_BLOCK, {"names": list(_spellings(last))})
            if r[3] is None and last in _spellings(r[2] or "")
        ]
        rows = sorted(rows, key=_by_id)[:BLOCK_LIMIT]
        if fold(p.first) and len(last) >= 3:
            prefixes = _spellings(last[:3])
            rows += sorted(
                (
                    r
                    for r in session.execute(
                        _first_name_block(len(prefixes)),
                        {
                            "firsts": list(_first_spellings(p.first)),
                            **_prefix_bounds(prefixes),
                        },
                    )
                    if r[3] is None and _first_block(r[1] or "", r[2] or "", p)
                ),
                key=_by_id,
            )[:BLOCK_LIMIT]
        for cid, first, other_last, _ in rows:
            if cid != p.id and (
                threshold <= 0.5
                or name_similarity(p.first, p.last, first or "", other_last or "") >= 0.75
            ):
                found.add(cid)
        out[p.id] = found
    return out


def _shared(session: Session, profiles: Iterable[Profile]) -> dict[tuple[str, str], list[str]]:
    """Live holders of every phone and e-mail of ``profiles``."""
    keys = {("phone", v) for p in profiles for v in p.phones}
    keys |= {("email", v) for p in profiles for v in p.emails}
    holders: dict[tuple[str, str], list[str]] = {}
    for kind in ("phone", "email"):
        values = sorted(v for k, v in keys if k == kind)
        for start in range(0, len(values), 500):
            for value, contact in session.execute(
                select(Identifier.value, Identifier.contact_id)
                .join(Contact, Contact.id == Identifier.contact_id)
                .where(
                    Identifier.kind == kind,
                    Identifier.value.in_(values[start : start + 500]),
                    Contact.merged_into_id.is_(None),
                )
            ):
                holders.setdefault((kind, value), []).append(contact)
    return holders


@dataclass(frozen=True)
class Scored:
    """What one scoring pass found: the pairs and their scores, the profiles read,
    the values that were ambiguous, and the pairs a person already rejected."""

    pairs: dict[tuple[str, str], tuple[float, dict[str, Any]]]
    profiles: dict[str, Profile]
    ambiguous: frozenset[str]
    rejected: frozenset[tuple[str, str]]


def refresh_candidates(
    session: Session, contact_ids: Sequence[str], rules: IdentityRules = DEFAULT_RULES
) -> Scored | None:
    """Re-score the candidates of ``contact_ids`` (call after their fields changed).

    Pairs scored: each contact with its name block; every pair of contacts sharing a
    phone or e-mail held by at most K contacts; and, for values held by more, the
    stored candidates among their holders (the value stopped being evidence).
    The hub calls it from the candidate queue's scorer
    (hub/identity/candidate_queue.py), never in the write path.
    """
    if not rules.candidates.enabled or not contact_ids:
        return None
    session.flush()
    mine = _profiles(session, contact_ids)
    holders = _shared(session, mine.values())
    limit = rules.max_contacts_per_value
    ambiguous = frozenset(v for (_, v), ids in holders.items() if len(ids) > limit)
    wanted: set[tuple[str, str]] = set()
    for cid, block in _blocks(session, list(mine.values()), rules.candidates.threshold).items():
        wanted |= {(min(cid, o), max(cid, o)) for o in block}
    for ids in holders.values():
        if 1 < len(ids) <= limit:
            wanted |= {(min(x, y), max(x, y)) for x in ids for y in ids if x < y}
    crowded = {c for ids in holders.values() if len(ids) > limit for c in ids}
    existing = _existing(session, set(mine) | crowded)
    wanted |= {pair for pair in existing if set(pair) <= crowded}
    profiles = _profiles(session, {c for pair in wanted for c in pair} - mine.keys())
    profiles.update(mine)
    extra = _shared(session, [p for c, p in profiles.items() if c not in mine])
    ambiguous |= {v for (_, v), ids in extra.items() if len(ids) > limit}
    pairs = {
        pair: score(profiles[pair[0]], profiles[pair[1]], ambiguous)
        for pair in sorted(wanted)
        if pair[0] in profiles and pair[1] in profiles
    }
    _store(session, pairs, existing, set(mine), rules.candidates.threshold)
    rejected = frozenset(p for p, row in existing.items() if row.status == "rejected")
    return Scored(pairs, profiles, ambiguous, rejected)


def _existing(session: Session, ids: set[str]) -> dict[tuple[str, str], MatchCandidate]:
    if not ids:
        return {}
    found: dict[tuple[str, str], MatchCandidate] = {}
    listed = sorted(ids)
    for start in range(0, len(listed), 500):
        chunk = listed[start : start + 500]
        for row in session.scalars(
            select(MatchCandidate).where(
                or_(MatchCandidate.contact_id.in_(chunk), MatchCandidate.candidate_id.in_(chunk))
            )
        ):
            found[(row.contact_id, row.candidate_id)] = row
    return found


def _store(
    session: Session,
    pairs: dict[tuple[str, str], tuple[float, dict[str, Any]]],
    existing: dict[tuple[str, str], MatchCandidate],
    mine: set[str],
    threshold: float,
) -> None:
    fresh: list[dict[str, Any]] = []
    for pair, (value, reasons) in pairs.items():
        row = existing.get(pair)
        if row is not None and row.status != "open":
            continue
        if value >= threshold:
            if row is None:
                fresh.append(
                    {
                        "contact_id": pair[0],
                        "candidate_id": pair[1],
                        "score": value,
                        "reasons": reasons,
                        "status": "open",
                        "created_at": utcnow(),
                    }
                )
            elif (row.score, row.reasons) != (value, reasons):
                row.score, row.reasons = value, reasons
        elif row is not None:
            session.delete(row)
    for pair, row in existing.items():  # open pairs of these contacts no longer scored
        if pair not in pairs and row.status == "open" and set(pair) & mine:
            session.delete(row)
    session.flush()
    # Two scorers may find the same new pair at once (each from one of its contacts):
    # the second insert is a no-op, not an error.
    insert_ignoring_duplicates(session, MatchCandidate, fresh, ("contact_id", "candidate_id"))


def candidates_for(session: Session, contact_id: str, limit: int = 5) -> list[tuple[str, float]]:
    """Open candidates of one contact, best first: ``[(other contact id, score)]``."""
    rows = session.scalars(
        select(MatchCandidate)
        .where(
            MatchCandidate.status == "open",
            or_(MatchCandidate.contact_id == contact_id, MatchCandidate.candidate_id == contact_id),
        )
        .order_by(MatchCandidate.score.desc(), MatchCandidate.id)
        .limit(limit)
    )
    return [(r.candidate_id if r.contact_id == contact_id else r.contact_id, r.score) for r in rows]


def candidate_json(row: MatchCandidate) -> dict[str, Any]:
    return {
        "id": row.id,
        "contact_id": row.contact_id,
        "candidate_id": row.candidate_id,
        "score": row.score,
        "reasons": row.reasons,
        "status": row.status,
        "created_at": row.created_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "decided_by": row.decided_by,
    }


def list_candidates(
    session: Session,
    *,
    status: str | None = "open",
    min_score: float = 0.0,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Stored candidates for admins, best first (``status=None``: every status)."""
    query = (
        select(MatchCandidate)
        .where(MatchCandidate.score >= min_score)
        .order_by(MatchCandidate.score.desc(), MatchCandidate.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(MatchCandidate.status == status)
    if before_id is not None:
        query = query.where(MatchCandidate.id < before_id)
    return [candidate_json(r) for r in session.scalars(query)]


def find_candidate(session: Session, a: str, b: str) -> MatchCandidate | None:
    pair = (min(a, b), max(a, b))
    return session.scalar(
        select(MatchCandidate).where(
            MatchCandidate.contact_id == pair[0], MatchCandidate.candidate_id == pair[1]
        )
    )


def decide_candidate(
    session: Session, a: str, b: str, *, confirm: bool, actor: str, survivor: str | None = None
) -> dict[str, Any]:
    """Confirm (merge ``a`` and ``b``, ``survivor`` kept, by default ``b``) or reject
    (never suggest the pair again). Works with or without a stored candidate."""
    from hub.identity.merge import live_id, merge_contacts

    a, b = live_id(session, a), live_id(session, b)
    row = find_candidate(session, a, b)
    if row is None:
        row = MatchCandidate(
            contact_id=min(a, b), candidate_id=max(a, b), score=0.0, reasons={}, created_at=utcnow()
        )
        session.add(row)
    row.decided_at, row.decided_by = utcnow(), actor
    if not confirm:
        row.status = "rejected"
        session.flush()
        return {"decision": "rejected", "candidate_id": row.id}
    keep = survivor or b
    merge = merge_contacts(
        session,
        keep,
        a if keep == b else b,
        rule="agent_confirmed" if actor.startswith("agent:") else "confirmed",
        actor=actor,
        evidence=[{"kind": "candidate", "value": str(row.id), "reasons": row.reasons}],
        score=row.score,
    )
    row.status = "confirmed"
    merge.undo = {**merge.undo, "candidates": [{"id": row.id, "status": "open"}]}
    session.flush()
    return {"decision": "confirmed", "candidate_id": row.id, "merge_id": merge.id}
