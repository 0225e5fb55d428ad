"""The candidate queue: contact writes note which contacts changed; a scorer, outside
the write path, re-scores their candidates and applies automatic merges.

Writes call :func:`enqueue` in their own transaction (one row per contact, so a
contact touched a thousand times during a backfill is scored once). Workers call
:func:`score_queued`, which

1. leases a batch in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
   so several workers take disjoint batches; SQLite has one writer anyway),
2. scores it in a read transaction (:func:`hub.identity.candidates.score_candidates`:
   a deferred BEGIN on SQLite, so scoring never holds the write lock),
3. in a short write transaction stores the candidates
   (:func:`hub.identity.candidates.store_candidates`), merges the pairs the rules
   allow (``hub.identity.auto_merge.threshold``), and deletes the rows it scored,
   except those written again since the lease (their ``touches`` moved on): those
   are released and scored once more. A contact written between the read and the
   write is one of those, so a score taken from a moment-old read is redone.

A scorer that dies leaves its rows leased; the lease runs out and another takes them.
Contact writes never wait for scoring.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from hub.identity.automerge import limited_held, limits_allow
from hub.identity.candidates import Profile, Scored, score_candidates, store_candidates
from hub.identity.resolve import lock_identifiers
from hub.identity.rules import DEFAULT_RULES, IdentityRules
from hub.store.coltypes import utcnow
from hub.store.db import make_session_factory, transaction
from hub.store.models import CandidateQueueEntry, Contact

log = logging.getLogger(__name__)

Queue = CandidateQueueEntry


def enqueue(session: Session, contact_ids: Iterable[str]) -> None:
    """Note that ``contact_ids`` changed (in the caller's transaction; flush the
    contacts first). A contact already queued only counts one more touch."""
    rows = queue_rows(contact_ids)
    if rows:
        session.execute(_enqueue_statement(session.get_bind().dialect.name), rows)


def queue_rows(contact_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The rows :func:`enqueue` upserts, for callers that send them inside a statement
    of their own (hub/store/bulk.py on PostgreSQL, with :data:`REQUEUE`)."""
    now = utcnow()
    # sorted: concurrent writers lock rows in one order
    return [{"contact_id": c, "queued_at": now, "touches": 1} for c in sorted(set(contact_ids))]


#: What an upsert of :func:`queue_rows` does to a contact already queued (SQL).
REQUEUE = "ON CONFLICT (contact_id) DO UPDATE SET touches = candidate_queue.touches + 1"


@lru_cache(maxsize=2)
def _enqueue_statement(dialect: str) -> Any:
    """One statement per dialect, built once, sent as an executemany (batched into
    multi-row VALUES by the driver layer): compiling a fresh multi-row statement per
    page costs more than the write, and building one per single record about as much."""
    table: Table = Queue.__table__  # type: ignore[assignment]
    builder: Any = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    return builder(table).on_conflict_do_update(
        index_elements=["contact_id"], set_={"touches": table.c.touches + 1}
    )


@lru_cache(maxsize=8)
def _readers(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Read sessions on the engine of ``sessions`` (deferred BEGIN on SQLite)."""
    return make_session_factory(sessions.kw["bind"], read_only=True)


def pending(session: Session) -> int:
    """How many contacts wait to be scored (for metrics and tests)."""
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(Queue)) or 0)


def _claim(session: Session, worker_id: str, limit: int, lease: timedelta) -> list[tuple[str, int]]:
    now = utcnow()
    pick: Any = (
        select(Queue.contact_id)
        .where(or_(Queue.lease_until.is_(None), Queue.lease_until < now))
        .order_by(Queue.queued_at, Queue.contact_id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    stmt = (
        update(Queue)
        .where(Queue.contact_id.in_(pick.scalar_subquery()))
        .values(lease_until=now + lease, locked_by=worker_id)
        .returning(Queue.contact_id, Queue.touches)
        .execution_options(synchronize_session=False)
    )
    return sorted((row[0], row[1]) for row in session.execute(stmt))


def _finish(session: Session, worker_id: str, claimed: list[tuple[str, int]]) -> None:
    """Delete the scored rows nobody wrote to since the claim; release the others."""
    for start in range(0, len(claimed), 500):
        chunk = claimed[start : start + 500]
        session.execute(
            delete(Queue)
            .where(
                Queue.locked_by == worker_id,
                or_(*(and_(Queue.contact_id == c, Queue.touches == t) for c, t in chunk)),
            )
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(Queue)
            .where(Queue.locked_by == worker_id, Queue.contact_id.in_([c for c, _ in chunk]))
            .values(lease_until=None, locked_by=None)
            .execution_options(synchronize_session=False)
        )


def score_queued(
    sessions: sessionmaker[Session],
    rules: IdentityRules = DEFAULT_RULES,
    *,
    worker_id: str = "scorer",
    limit: int = 50,
    lease: timedelta = timedelta(minutes=5),
) -> int:
    """Score one batch of queued contacts; return how many were taken off the queue
    (0: nothing to do). Safe to run from several workers at once.

    Scoring reads in its own transaction (on SQLite a deferred one, which takes no
    write lock); only storing the candidates, the merges and the queue's bookkeeping
    hold the write lock, so inbox batches barely wait behind the scorer."""
    with transaction(sessions) as session:
        claimed = _claim(session, worker_id, limit, lease)
    if not claimed:
        return 0
    ids = [c for c, _ in claimed]
    with _readers(sessions)() as session, session.begin():
        scored = score_candidates(session, ids, rules)
    merges = 0
    with transaction(sessions) as session:
        if scored is not None:
            scored = store_candidates(session, scored, rules)
            merges = auto_merge(session, scored, rules)
        _finish(session, worker_id, claimed)
    log.info(
        "identity.candidates_scored",
        extra={"contacts": len(claimed), "auto_merges": merges, "worker": worker_id},
    )
    return len(claimed)


def drain(
    sessions: sessionmaker[Session],
    rules: IdentityRules = DEFAULT_RULES,
    *,
    worker_id: str = "scorer",
    limit: int = 500,
) -> int:
    """Score until the queue is empty (tests, the demo, ``threadline`` commands)."""
    total = 0
    while n := score_queued(sessions, rules, worker_id=worker_id, limit=limit):
        total += n
    return total


# ----- probabilistic automatic merges --------------------------------------------------


def _personal_emails(p: Profile, rules: IdentityRules, ambiguous: frozenset[str]) -> set[str]:
    return {e for e in p.emails if e not in ambiguous and not rules.auto_merge.is_role_email(e)}


def merge_worthy(
    a: Profile,
    b: Profile,
    value: float,
    reasons: dict[str, Any],
    rules: IdentityRules,
    ambiguous: frozenset[str] = frozenset(),
) -> list[dict[str, Any]] | None:
    """The evidence for merging ``a`` and ``b`` without a person, or None.

    A score at or above ``auto_merge.threshold`` is not enough alone: the two must
    share a personal e-mail (a role address such as info@ or a value held by more
    than K contacts is no evidence, and a switchboard phone never is), their names
    must agree (name similarity at least 0.9), and their companies must not differ.
    """
    threshold = rules.auto_merge.threshold
    if threshold is None or value < threshold or reasons.get("name", 0.0) < 0.9:
        return None
    if reasons.get("company") == 0.0:
        return None
    shared = sorted(_personal_emails(a, rules, ambiguous) & _personal_emails(b, rules, ambiguous))
    if not shared:
        return None
    return [{"kind": "email", "value": v} for v in shared]


def auto_merge(session: Session, scored: Scored, rules: IdentityRules) -> int:
    """Merge the scored pairs :func:`merge_worthy` accepts (recorded, reversible:
    rule ``probabilistic``). Returns how many merges were made."""
    from hub.identity.merge import live_id, merge_contacts

    if rules.auto_merge.threshold is None:
        return 0
    worthy: list[tuple[str, str, float, dict[str, Any], list[dict[str, Any]]]] = []
    for pair, (value, reasons) in sorted(scored.pairs.items()):
        if pair in scored.rejected:
            continue
        one, two = scored.profiles[pair[0]], scored.profiles[pair[1]]
        evidence = merge_worthy(one, two, value, reasons, rules, scored.ambiguous)
        if evidence is not None:
            worthy.append((pair[0], pair[1], value, reasons, evidence))
    if not worthy:
        return 0
    # Serialise with other scorers and with write-path merges touching these contacts.
    lock_identifiers(session, [("contact", c) for w in worthy for c in w[:2]])
    merges = 0
    for first, second, value, reasons, evidence in worthy:
        a, b = live_id(session, first), live_id(session, second)
        if a == b:
            continue
        if rules.auto_merge.respect_limits:
            held = limited_held(session, [a, b], rules)
            if not limits_allow(held[a], held[b], rules):
                continue
        survivor, merged = _older_first(session, a, b)
        merge_contacts(
            session,
            survivor,
            merged,
            rule="probabilistic",
            actor="identity:auto_merge",
            evidence=[*evidence, {"kind": "reasons", "value": "", "reasons": reasons}],
            score=value,
        )
        merges += 1
    if merges:
        enqueue(session, [live_id(session, w[0]) for w in worthy])
    return merges


def _older_first(session: Session, a: str, b: str) -> tuple[str, str]:
    rows = dict(
        session.execute(select(Contact.id, Contact.created_at).where(Contact.id.in_([a, b]))).all()
    )
    first, second = sorted((a, b), key=lambda c: (rows.get(c), c))
    return first, second
