"""Stored candidates (hub/identity/candidates.py): writing a scoring's pairs, listing
them for agents and admins, and a person's decision (confirm merges, reject never
suggests the pair again)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.store.coltypes import utcnow
from hub.store.models import MatchCandidate
from hub.store.rowsets import insert_rows


def existing_candidates(session: Session, ids: set[str]) -> dict[tuple[str, str], MatchCandidate]:
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


def store_pairs(
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
    table: Any = MatchCandidate.__table__
    insert_rows(session, table, fresh, skip_conflicts_on=("contact_id", "candidate_id"))


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
