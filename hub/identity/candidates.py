"""Candidates: contacts that may be one person, scored, stored, never merged alone.

Blocking keeps it cheap, and its cost per contact does not grow with the store: a
contact is compared only with contacts of the same last name (any case), or of the
same first name (nicknames included) whose last name starts with the same three
letters, through the name indexes, and only with those whose names are alike enough
to ever score. A block larger than ``BLOCK_CAP`` is too common to be evidence: it is
sub-blocked by a tighter key (the last name with the first name; a longer last-name
prefix) and skipped when even that is too common (hub/identity/blocking.py says which). A
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
from typing import Any

from sqlalchemy.orm import Session

from hub.identity.blocking import BLOCK_CAP, CROWD_CAP, blocks, more_than, shared_holders
from hub.identity.candidate_store import (
    candidate_json,
    candidates_for,
    decide_candidate,
    existing_candidates,
    find_candidate,
    list_candidates,
    store_pairs,
)
from hub.identity.profiles import Profile, load_profiles, score
from hub.identity.rules import DEFAULT_RULES, IdentityRules

#: Callers import these from here (the API, the panel, the CLI, the scorer).
__all__ = [
    "BLOCK_CAP",
    "Profile",
    "Scored",
    "candidate_json",
    "candidates_for",
    "decide_candidate",
    "find_candidate",
    "list_candidates",
    "refresh_candidates",
    "score",
    "score_candidates",
    "store_candidates",
]


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
    existing = existing_candidates(session, set(scored.mine) | set(scored.crowded))
    store_pairs(session, scored.pairs, existing, set(scored.mine), rules.candidates.threshold)
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
    mine = load_profiles(session, contact_ids)
    limit = rules.max_contacts_per_value
    keys = _keys(mine.values())
    # Never every holder of a switchboard: first which values have more than
    # CROWD_CAP holders (at most CROWD_CAP + 1 read each), then the holders of the rest.
    overcrowded = more_than(session, keys, CROWD_CAP)
    holders = shared_holders(session, keys - overcrowded)
    ambiguous = frozenset(v for (_, v), ids in holders.items() if len(ids) > limit)
    ambiguous |= {v for _, v in overcrowded}
    wanted: set[tuple[str, str]] = set()
    notes: dict[tuple[str, str], str] = {}
    for cid, block in blocks(session, list(mine.values()), rules.candidates.threshold).items():
        for other, note in block.items():
            pair = (min(cid, other), max(cid, other))
            wanted.add(pair)
            if note is not None:
                notes.setdefault(pair, note)
    for ids in holders.values():
        if 1 < len(ids) <= limit:
            wanted |= {(min(x, y), max(x, y)) for x in ids for y in ids if x < y}
    crowded = {c for ids in holders.values() if len(ids) > limit for c in ids}
    existing = existing_candidates(session, set(mine) | crowded)
    wanted |= {pair for pair in existing if set(pair) <= crowded}
    profiles = load_profiles(session, {c for pair in wanted for c in pair} - mine.keys())
    profiles.update(mine)
    others = _keys(p for c, p in profiles.items() if c not in mine) - keys
    ambiguous |= {v for _, v in more_than(session, others, limit)}
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
