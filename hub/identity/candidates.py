"""Candidates: contacts that may be one person, scored, stored, never merged alone.

Blocking keeps it cheap, and its cost per contact does not grow with the store: a
contact is compared only with contacts of the same last name (any case), or of the
same first name (nicknames included) whose last name starts with the same three
letters, through the name indexes, and only with those whose names are alike enough
to ever score. A block larger than ``BLOCK_CAP`` is too common to be evidence: it is
sub-blocked by a tighter key (the last name with the first name; a longer last-name
prefix) and skipped when even that is too common (:data:`SUB_BLOCKS` says which). A
phone or e-mail held by more than K contacts is no evidence, and its holders are
never read beyond what tells that (``CROWD_CAP``). The score weighs name similarity
with company, phone and e-mail evidence; a score at or above
``hub.identity.candidates.threshold`` is stored as a candidate (shown in the context
API's ``match.candidates``), below it any open candidate of the pair goes. Rejected
pairs are never suggested again; confirming merges them (:func:`decide_candidate`).

The candidate set depends only on the contacts' current fields and identifiers, not
on the order records arrived in, so the bulk path and the per-record path agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, literal_column, or_, select, text
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

#: A block of more contacts than this is too common to be evidence (a "Smith"): it is
#: sub-blocked by a tighter key, and skipped when that is too common as well. Each
#: block statement reads at most BLOCK_CAP + 1 rows, so scoring a contact costs the
#: same in a store of ten thousand contacts or ten million.
BLOCK_CAP = 100
#: Last-name prefix lengths of the first-name block, tried in turn while the block is
#: too common (a prefix as long as the last name is the last-name block's sub-block).
PREFIXES = (3, 5, 7)
#: Holders of an ambiguous value (more than K) whose stored candidates are re-scored
#: without it; a value held by more than this became ambiguous many scorings ago.
CROWD_CAP = 50
SUB_BLOCKS = (
    "last name (any case); above BLOCK_CAP: last name and first name (nicknames)",
    "first name (nicknames) and the last name's first 3 letters; above BLOCK_CAP: "
    "its first 5, then 7 letters; above that (or the whole last name): skipped",
)


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


@lru_cache(maxsize=65536)
def _spellings(name: str) -> tuple[str, ...]:
    return tuple(sorted({name, name.lower(), name.upper(), name.title(), name.capitalize()}))


_BLOCK_COLUMNS = (Contact.id, Contact.first_name, Contact.last_name, Contact.merged_into_id)
#: The block statements are built once: building a SELECT per contact cost more than
#: running it. None has an ORDER BY, so the name indexes serve them and LIMIT stops them.
_LAST_NAME_BLOCK = (
    select(*_BLOCK_COLUMNS)
    .where(Contact.last_name.in_(bindparam("names", expanding=True)))
    .limit(BLOCK_CAP + 1)
)
#: The last-name block's sub-block: the same last name and first name (nicknames),
#: served by the (first_name, last_name) index.
_FULL_NAME_BLOCK = (
    select(*_BLOCK_COLUMNS)
    .where(
        Contact.first_name.in_(bindparam("firsts", expanding=True)),
        Contact.last_name.in_(bindparam("names", expanding=True)),
    )
    .limit(BLOCK_CAP + 1)
)


def _prefix_bounds(prefixes: Sequence[str], tag: str = "") -> dict[str, str]:
    """``last_name`` starts with one of ``prefixes``, as ranges an index can serve (LIKE
    is case-insensitive on SQLite and collation-bound on PostgreSQL: neither uses it)."""
    bounds = {}
    for n, prefix in enumerate(prefixes):
        bounds[f"lo{tag}{n}"] = prefix
        bounds[f"hi{tag}{n}"] = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return bounds


@lru_cache(maxsize=64)
def _first_name_block(prefixes: int, tag: str = "") -> Any:
    # One (first names, last-name range) term per prefix spelling: with the first names
    # outside the OR, SQLite seeks the first name only and walks every contact of that
    # first name (a store-sized walk when the block is small); so each term is a seek
    # of the (first_name, last_name) index and LIMIT stops the whole.
    firsts: Any = bindparam("firsts", expanding=True)
    ranges = [
        Contact.first_name.in_(firsts)
        & (Contact.last_name >= bindparam(f"lo{tag}{n}"))
        & (Contact.last_name < bindparam(f"hi{tag}{n}"))
        for n in range(prefixes)
    ]
    return select(*_BLOCK_COLUMNS).where(or_(*ranges)).limit(BLOCK_CAP + 1)


@lru_cache(maxsize=256)
def _block_sizes(spellings: tuple[int, ...]) -> Any:
    """One statement: how many rows (up to BLOCK_CAP + 1) the last-name block, its
    sub-block and the first-name block at each prefix length hold (``spellings``: the
    prefix spellings of each length), counted in the name indexes without reading a
    row, so a block too common to use costs no more than a seek."""
    blocks = [
        _LAST_NAME_BLOCK,
        _FULL_NAME_BLOCK,
        *(_first_name_block(n, f"p{i}_") for i, n in enumerate(spellings)),
    ]
    return select(
        *(
            select(func.count())
            .select_from(b.with_only_columns(literal_column("1")).subquery())
            .scalar_subquery()
            for b in blocks
        )
    )


@lru_cache(maxsize=65536)
def _first_spellings(first: str) -> tuple[str, ...]:
    return tuple(sorted({s for v in nickname_variants(first) for s in _spellings(v)}))


def _first_block(first: str, last: str, p: Profile, length: int) -> bool:
    """The first-name block (last names sharing ``length`` letters) seen from the
    other side, so blocking is symmetric (a pair is found whichever of the two is
    touched)."""
    return (
        len(last.strip()) >= length
        and p.first in _first_spellings(first)
        and any(p.last.startswith(x) for x in _spellings(last.strip()[:length]))
    )


def _by_id(row: Any) -> str:
    return str(row[0])


def _live(rows: Iterable[Any]) -> list[Any]:
    # Merged contacts are dropped here, not in SQL: ``merged_into_id IS NULL`` holds
    # for nearly every row, yet SQLite's planner prefers its index to the name's.
    return [r for r in rows if r[3] is None]


_LAST_TOO_COMMON = (
    f"the last name is held by more than {BLOCK_CAP} contacts: compared with the same "
    "first name (nicknames) only"
)


def _prefix_too_common(length: int) -> str:
    return (
        f"the first name with the last name's first {PREFIXES[0]} letters matches more "
        f"than {BLOCK_CAP} contacts: compared on its first {length}"
    )


def _block_rows(session: Session, p: Profile) -> list[tuple[Any, str | None]]:
    """The rows of ``p``'s blocks (see :data:`SUB_BLOCKS`), each with a note when it
    comes from a sub-block (the candidate's reasons say so): the sizes of the blocks
    and their sub-blocks first (one statement, counting at most BLOCK_CAP + 1 of each),
    then the rows of the widest of each kind that holds at most BLOCK_CAP."""
    last = p.last.strip()
    names = list(_spellings(last))
    firsts = list(_first_spellings(p.first)) if fold(p.first) else []
    lengths = [
        n
        for n in PREFIXES
        if firsts and len(last) >= n and not (n > PREFIXES[0] and len(last) == n)
    ]
    if not lengths:  # no first-name block: the last-name block alone
        rows = list(session.execute(_LAST_NAME_BLOCK, {"names": names}))
        note = None
        if len(rows) > BLOCK_CAP and firsts:
            rows = list(session.execute(_FULL_NAME_BLOCK, {"names": names, "firsts": firsts}))
            note = _LAST_TOO_COMMON
        rows = rows if len(rows) <= BLOCK_CAP else []
        return [(r, note) for r in _live(rows) if last in _spellings(r[2] or "")]
    prefixes = [_spellings(last[:n]) for n in lengths]
    params: dict[str, Any] = {"names": names, "firsts": firsts}
    for i, spelled in enumerate(prefixes):
        params.update(_prefix_bounds(spelled, f"p{i}_"))
    sizes = session.execute(_block_sizes(tuple(len(x) for x in prefixes)), params).one()
    found: list[tuple[Any, str | None]] = []
    for block, size, note in (
        (_LAST_NAME_BLOCK, sizes[0], None),
        (_FULL_NAME_BLOCK, sizes[1], _LAST_TOO_COMMON),
    ):
        if size and size <= BLOCK_CAP:
            rows = _live(session.execute(block, params))
            found = [(r, note) for r in rows if last in _spellings(r[2] or "")]
            break
    for i, size in enumerate(sizes[2:]):
        if size <= BLOCK_CAP:
            if size:
                block = _first_name_block(len(prefixes[i]), f"p{i}_")
                rows = _live(session.execute(block, params))
                note = _prefix_too_common(lengths[i]) if i else None
                found += [
                    (r, note) for r in rows if _first_block(r[1] or "", r[2] or "", p, lengths[i])
                ]
            break
    return found


def _blocks(
    session: Session, profiles: Sequence[Profile], threshold: float
) -> dict[str, dict[str, str | None]]:
    """For each profile, the contacts worth scoring against it (with the sub-block's
    note, if one found it): its blocks (:func:`_block_rows`), less those whose name
    alone rules them out (names less than 0.75 alike never score above 0.5). Both
    blocks are checked from the other side too, so a pair is found whichever of the
    two is touched."""
    out: dict[str, dict[str, str | None]] = {}
    for p in profiles:
        found: dict[str, str | None] = {}
        if p.last.strip():
            for (cid, first, other_last, _), note in _block_rows(session, p):
                if cid != p.id and (
                    threshold <= 0.5
                    or name_similarity(p.first, p.last, first or "", other_last or "") >= 0.75
                ):
                    found.setdefault(cid, note)
        out[p.id] = found
    return out


def _more_than(
    session: Session, keys: Iterable[tuple[str, str]], count: int
) -> set[tuple[str, str]]:
    """The (kind, value) ``keys`` held by more than ``count`` live contacts, in one
    statement per 200 keys that reads at most ``count + 1`` holders of each."""
    listed = sorted(set(keys))
    found: set[tuple[str, str]] = set()
    for start in range(0, len(listed), 200):
        chunk = listed[start : start + 200]
        params: dict[str, Any] = {"skip": count}
        for n, (kind, value) in enumerate(chunk):
            params[f"k{n}"], params[f"v{n}"] = kind, value
        found.update(
            (kind, value)
            for kind, value in session.execute(_more_than_statement(len(chunk)), params)
        )
    return found


@lru_cache(maxsize=256)
def _more_than_statement(keys: int) -> Any:
    wanted = " UNION ALL ".join(
        f"SELECT CAST(:k{n} AS VARCHAR(100)) AS kind, CAST(:v{n} AS VARCHAR(320)) AS value"
        for n in range(keys)
    )
    # Placeholders only: the kinds and values are bound parameters.
    sql = f"SELECT w.kind, w.value FROM ({wanted}) AS w WHERE EXISTS ({_HOLDER_BEYOND})"  # noqa: S608
    return text(sql)


#: Is there a live holder beyond the first ``skip``? Reads at most ``skip + 1``.
_HOLDER_BEYOND = (
    "SELECT 1 FROM identifiers AS i JOIN contacts AS c ON c.id = i.contact_id "
    "WHERE i.kind = w.kind AND i.value = w.value AND c.merged_into_id IS NULL "
    "LIMIT 1 OFFSET :skip"
)


def _shared(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    """Live holders of every (kind, value) of ``keys`` (callers pass only values held
    by few contacts: the read is bounded by how many)."""
    holders: dict[tuple[str, str], list[str]] = {}
    for kind in ("phone", "email"):
        values = sorted(v for k, v in set(keys) if k == kind)
        for start in range(0, len(values), 500):
            for value, contact, merged in session.execute(
                select(Identifier.value, Identifier.contact_id, Contact.merged_into_id)
                .join(Contact, Contact.id == Identifier.contact_id)
                .where(Identifier.kind == kind, Identifier.value.in_(values[start : start + 500]))
            ):
                if merged is None:  # not in SQL: see _profiles
                    holders.setdefault((kind, value), []).append(contact)
    return holders


def _keys(profiles: Iterable[Profile]) -> set[tuple[str, str]]:
    keys = {("phone", v) for p in profiles for v in p.phones}
    return keys | {("email", v) for p in profiles for v in p.emails}


@dataclass(frozen=True)
class Scored:
    """What one scoring pass found: the pairs and their scores, the profiles read,
    the values that were ambiguous, the pairs a person already rejected, the contacts
    scored and the holders of ambiguous values whose stored candidates were re-scored."""

    pairs: dict[tuple[str, str], tuple[float, dict[str, Any]]]
    profiles: dict[str, Profile]
    ambiguous: frozenset[str]
    rejected: frozenset[tuple[str, str]]
    mine: frozenset[str] = frozenset()
    crowded: frozenset[str] = frozenset()


def refresh_candidates(
    session: Session, contact_ids: Sequence[str], rules: IdentityRules = DEFAULT_RULES
) -> Scored | None:
    """Re-score the candidates of ``contact_ids`` (call after their fields changed):
    :func:`score_candidates`, then :func:`store_candidates` in the same session.
    The hub calls the two from the candidate queue's scorer
    (hub/identity/candidate_queue.py), never in the write path."""
    scored = score_candidates(session, contact_ids, rules)
    return None if scored is None else store_candidates(session, scored, rules)


def store_candidates(session: Session, scored: Scored, rules: IdentityRules) -> Scored:
    """Store what :func:`score_candidates` found (a short write: the stored candidates
    of the contacts are read again here, so a scoring done in an earlier read
    transaction stores against the current rows); returns it with the rejected pairs
    as they are now."""
    existing = _existing(session, set(scored.mine) | set(scored.crowded))
    _store(session, scored.pairs, existing, set(scored.mine), rules.candidates.threshold)
    rejected = frozenset(p for p, row in existing.items() if row.status == "rejected")
    return replace(scored, rejected=rejected)


def score_candidates(
    session: Session, contact_ids: Sequence[str], rules: IdentityRules = DEFAULT_RULES
) -> Scored | None:
    """Score the candidates of ``contact_ids``, reading only (no write: on SQLite it
    runs outside the write lock).

    Pairs scored: each contact with its name blocks; every pair of contacts sharing a
    phone or e-mail held by at most K contacts; and, for values held by more (but at
    most ``CROWD_CAP``), the stored candidates among their holders (the value stopped
    being evidence).
    """
    if not rules.candidates.enabled or not contact_ids:
        return None
    session.flush()
    mine = _profiles(session, contact_ids)
    limit = rules.max_contacts_per_value
    keys = _keys(mine.values())
    # Never every holder of a switchboard: first which values have more than
    # CROWD_CAP holders (at most CROWD_CAP + 1 read each), then the holders of the rest.
    overcrowded = _more_than(session, keys, CROWD_CAP)
    holders = _shared(session, keys - overcrowded)
    ambiguous = frozenset(v for (_, v), ids in holders.items() if len(ids) > limit)
    ambiguous |= {v for _, v in overcrowded}
    wanted: set[tuple[str, str]] = set()
    notes: dict[tuple[str, str], str] = {}
    for cid, block in _blocks(session, list(mine.values()), rules.candidates.threshold).items():
        for other, note in block.items():
            pair = (min(cid, other), max(cid, other))
            wanted.add(pair)
            if note is not None:
                notes.setdefault(pair, note)
    for ids in holders.values():
        if 1 < len(ids) <= limit:
            wanted |= {(min(x, y), max(x, y)) for x in ids for y in ids if x < y}
    crowded = {c for ids in holders.values() if len(ids) > limit for c in ids}
    existing = _existing(session, set(mine) | crowded)
    wanted |= {pair for pair in existing if set(pair) <= crowded}
    profiles = _profiles(session, {c for pair in wanted for c in pair} - mine.keys())
    profiles.update(mine)
    others = _keys(p for c, p in profiles.items() if c not in mine) - keys
    ambiguous |= {v for _, v in _more_than(session, others, limit)}
    pairs = {
        pair: score(profiles[pair[0]], profiles[pair[1]], ambiguous)
        for pair in sorted(wanted)
        if pair[0] in profiles and pair[1] in profiles
    }
    for pair, note in notes.items():  # found through a sub-block: the reasons say so
        if pair in pairs:
            pairs[pair] = (pairs[pair][0], {**pairs[pair][1], "blocking": note})
    rejected = frozenset(p for p, row in existing.items() if row.status == "rejected")
    return Scored(pairs, profiles, ambiguous, rejected, frozenset(mine), frozenset(crowded))


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
