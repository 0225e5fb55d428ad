"""Blocking for candidate scoring (hub/identity/candidates.py): which contacts one
contact is compared with, at a cost per contact that does not grow with the store.

A contact is compared only with contacts of the same last name (any case), or of the
same first name (nicknames included) whose last name starts with the same three
letters, through the name indexes, and only with those whose names are alike enough to
ever score. A block larger than ``BLOCK_CAP`` is too common to be evidence: it is
sub-blocked by a tighter key and skipped when even that is too common
(:data:`SUB_BLOCKS`). Holders of a phone or e-mail are read only up to what tells
whether the value is ambiguous (``CROWD_CAP``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, func, literal_column, or_, select, text
from sqlalchemy.orm import Session

from hub.identity.profiles import Profile
from hub.identity.similarity import fold, name_similarity, nickname_variants
from hub.store.models import Contact, Identifier

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


def blocks(
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


def more_than(
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


def shared_holders(
    session: Session, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
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
