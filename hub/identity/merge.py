"""Explainable, reversible merges of two contacts.

A merge moves everything the merged contact owns (source records, identifiers,
interactions, journeys, pops) to the survivor, folds its fields in by the usual
survivorship rule, and records in ``merges`` the rule, the evidence, the score, the
actor and the exact ids that moved. :func:`unmerge` puts every one of them back.

What unmerge cannot know: identifiers and field values that arrived *after* the merge
through the survivor. Identifiers added then stay with the survivor; fields are
restored to their state before the merge and then every source record changed since
is re-applied to the contact it belongs to again, so no newer value is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.orm import Session

from hub.store.coltypes import utcnow
from hub.store.models import (
    AuditEntry,
    Contact,
    Identifier,
    Interaction,
    Journey,
    MatchCandidate,
    Merge,
    Pop,
    SourceRecord,
)
from hub.store.survivorship import CONTACT_COLUMNS, apply_fields


def live_id(session: Session, contact_id: str) -> str:
    """Follow ``merged_into_id`` to the contact that survives today."""
    seen: set[str] = set()
    current = contact_id
    while current not in seen:
        seen.add(current)
        nxt = session.scalar(select(Contact.merged_into_id).where(Contact.id == current))
        if not nxt:
            break
        current = nxt
    return current


def _state(contact: Contact) -> dict[str, Any]:
    return {
        "columns": {c: getattr(contact, c) for c in CONTACT_COLUMNS},
        "attributes": dict(contact.attributes or {}),
        "lineage": dict(contact.lineage or {}),
        "merged_into_id": contact.merged_into_id,
    }


def _restore(contact: Contact, state: dict[str, Any]) -> None:
    for name, value in state["columns"].items():
        setattr(contact, name, value)
    contact.attributes = dict(state["attributes"])
    contact.lineage = dict(state["lineage"])


def fold_fields(survivor: Contact, other: Contact) -> None:
    """Apply ``other``'s fields to ``survivor``, each with its own lineage (newest wins)."""
    columns = {c: getattr(survivor, c) for c in CONTACT_COLUMNS}
    attributes, lineage = dict(survivor.attributes or {}), dict(survivor.lineage or {})
    theirs = other.lineage or {}
    for name in sorted(theirs, key=lambda n: str(theirs[n].get("at", ""))):
        if name.startswith("attributes."):
            value = (other.attributes or {}).get(name.removeprefix("attributes."))
        else:
            value = getattr(other, name, None)
        if value is not None:
            apply_fields(columns, attributes, lineage, {name: value}, dict(theirs[name]))
    for name, value in columns.items():
        if getattr(survivor, name) != value:
            setattr(survivor, name, value)
    survivor.attributes, survivor.lineage = attributes, lineage


def _ids(session: Session, model: Any, contact_id: str) -> list[int]:
    return list(session.scalars(select(model.id).where(model.contact_id == contact_id)))


def _move(session: Session, model: Any, ids: Sequence[int], contact_id: str) -> None:
    for start in range(0, len(ids), 500):
        session.execute(
            update(model)
            .where(model.id.in_(ids[start : start + 500]))
            .values(contact_id=contact_id)
            .execution_options(synchronize_session="fetch")
        )


def merge_contacts(
    session: Session,
    survivor_id: str,
    merged_id: str,
    *,
    rule: str,
    actor: str,
    evidence: Sequence[dict[str, Any]] = (),
    score: float | None = None,
    extra_undo: dict[str, Any] | None = None,
) -> Merge:
    """Merge contact ``merged_id`` into ``survivor_id`` (both followed to their live
    contacts) and record it. Raises ValueError when they are already one contact."""
    session.flush()
    survivor = session.get(Contact, live_id(session, survivor_id))
    loser = session.get(Contact, live_id(session, merged_id))
    if survivor is None or loser is None:
        raise LookupError("no such contact")
    if survivor.id == loser.id:
        raise ValueError("these records already belong to one contact")
    undo: dict[str, Any] = {
        "survivor_before": _state(survivor),
        "merged_before": _state(loser),
        **(extra_undo or {}),
    }
    held = {
        (k, v)
        for k, v in session.execute(
            select(Identifier.kind, Identifier.value).where(Identifier.contact_id == survivor.id)
        )
    }
    moved, dropped = [], []
    for row in session.scalars(select(Identifier).where(Identifier.contact_id == loser.id)):
        if (row.kind, row.value) in held:
            dropped.append(
                {
                    "id": row.id,
                    "kind": row.kind,
                    "value": row.value,
                    "source_connector": row.source_connector,
                    "created_at": row.created_at.isoformat(),
                }
            )
        else:
            moved.append(row.id)
    undo["identifiers_moved"], undo["identifiers_dropped"] = moved, dropped
    if dropped:
        session.execute(
            delete(Identifier)
            .where(Identifier.id.in_([d["id"] for d in dropped]))
            .execution_options(synchronize_session="fetch")
        )
    _move(session, Identifier, moved, survivor.id)
    for name, model in (
        ("source_records", SourceRecord),
        ("interactions", Interaction),
        ("journeys", Journey),
        ("pops", Pop),
    ):
        undo[name] = _ids(session, model, loser.id)
        _move(session, model, undo[name], survivor.id)
    undo["candidates"] = _close_candidates(session, survivor.id, loser.id, "merged")
    fold_fields(survivor, loser)
    loser.merged_into_id = survivor.id
    merge = Merge(
        kind="contact",
        survivor_id=survivor.id,
        merged_id=loser.id,
        rule=rule,
        evidence=list(evidence),
        score=score,
        actor=actor,
        created_at=utcnow(),
        undo=undo,
    )
    session.add(merge)
    session.flush()
    return merge


def move_interactions(
    session: Session,
    interaction_ids: Sequence[int],
    pop_ids: Sequence[int],
    *,
    from_contact: str,
    to_contact: str,
    rule: str,
    actor: str,
    evidence: Sequence[dict[str, Any]] = (),
) -> Merge:
    """Move single interactions (a call an agent says is this person) and record it as
    a reversible, ``interaction``-kind merge. The contacts themselves stay apart."""
    _move(session, Interaction, list(interaction_ids), to_contact)
    _move(session, Pop, list(pop_ids), to_contact)
    merge = Merge(
        kind="interaction",
        survivor_id=to_contact,
        merged_id=from_contact,
        rule=rule,
        evidence=list(evidence),
        actor=actor,
        created_at=utcnow(),
        undo={"interactions": list(interaction_ids), "pops": list(pop_ids)},
    )
    session.add(merge)
    session.flush()
    return merge


def _close_candidates(session: Session, a: str, b: str, status: str) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(MatchCandidate).where(
            or_(
                (MatchCandidate.contact_id == a) & (MatchCandidate.candidate_id == b),
                (MatchCandidate.contact_id == b) & (MatchCandidate.candidate_id == a),
            )
        )
    )
    before = []
    for row in rows:
        before.append({"id": row.id, "status": row.status})
        row.status = status
    return before


def _find(session: Session, merge_id: int) -> Merge:
    merge = session.get(Merge, merge_id)
    if merge is not None:
        return merge
    # The admin API of an earlier build named merges by their audit entry.
    entry = session.get(AuditEntry, merge_id)
    if entry is not None and entry.action == "contact.merge":
        linked = (entry.details or {}).get("merge_id")
        if isinstance(linked, int) and (merge := session.get(Merge, linked)) is not None:
            return merge
        raise ValueError(
            f"audit entry {merge_id} records a merge made before merges were reversible; "
            "there is nothing to undo it with"
        )
    raise LookupError(f"no merge {merge_id}")


def unmerge(session: Session, merge_id: int, *, actor: str = "system") -> dict[str, Any]:
    """Undo merge ``merge_id`` exactly: contacts, identifiers, records, interactions.

    Raises LookupError (no such merge) or ValueError (already undone, or the merged
    contact has since been changed in a way that makes the undo unsafe).
    """
    merge = _find(session, merge_id)
    if merge.undone_at is not None:
        raise ValueError(f"merge {merge.id} was already undone by {merge.undone_by}")
    undo = merge.undo
    if merge.kind == "interaction":
        _move(session, Interaction, undo.get("interactions", []), merge.merged_id)
        _move(session, Pop, undo.get("pops", []), merge.merged_id)
    else:
        _unmerge_contacts(session, merge)
    merge.undone_at, merge.undone_by = utcnow(), actor
    session.flush()
    return {
        "merge_id": merge.id,
        "kind": merge.kind,
        "restored": merge.merged_id,
        "survivor": merge.survivor_id,
        "source_records": len(undo.get("source_records", [])),
        "interactions": len(undo.get("interactions", [])),
    }


def _unmerge_contacts(session: Session, merge: Merge) -> None:
    undo = merge.undo
    loser = session.get(Contact, merge.merged_id)
    survivor = session.get(Contact, merge.survivor_id)
    if loser is None or survivor is None:
        raise LookupError("a contact of this merge no longer exists")
    if loser.merged_into_id != survivor.id:
        raise ValueError(f"contact {loser.id} no longer follows {survivor.id}; undo that first")
    session.flush()
    # Records changed since the merge (updates, or moved in by a later merge) are
    # re-applied after the fields are restored; found before moving changes them.
    changed = list(
        session.scalars(
            select(SourceRecord.id).where(
                SourceRecord.contact_id == survivor.id,
                SourceRecord.updated_at > merge.created_at,
            )
        )
    )
    for name, model in (
        ("source_records", SourceRecord),
        ("interactions", Interaction),
        ("journeys", Journey),
        ("pops", Pop),
    ):
        _move(session, model, undo.get(name, []), loser.id)
    _move(session, Identifier, undo.get("identifiers_moved", []), loser.id)
    dropped = undo.get("identifiers_dropped", [])
    if dropped:
        session.execute(
            insert(Identifier),
            [
                {
                    "id": d["id"],
                    "kind": d["kind"],
                    "value": d["value"],
                    "contact_id": loser.id,
                    "source_connector": d["source_connector"],
                    "created_at": datetime.fromisoformat(d["created_at"]),
                }
                for d in dropped
            ],
        )
    for entry in undo.get("records_before", []):
        record = session.get(SourceRecord, entry["id"])
        if record is not None:
            record.snapshot = entry["snapshot"]
            record.deleted_at = (
                datetime.fromisoformat(entry["deleted_at"]) if entry["deleted_at"] else None
            )
    for entry in undo.get("candidates", []):
        candidate = session.get(MatchCandidate, entry["id"])
        if candidate is not None:
            candidate.status = entry["status"]
    _restore(loser, undo["merged_before"])
    loser.merged_into_id = undo["merged_before"]["merged_into_id"]
    _restore(survivor, undo["survivor_before"])
    _reapply(session, changed)


def _reapply(session: Session, record_ids: Sequence[int]) -> None:
    """Re-apply records changed after the merge, so unmerge loses no newer value."""
    if not record_ids:
        return
    records = list(session.scalars(select(SourceRecord).where(SourceRecord.id.in_(record_ids))))
    records.sort(key=lambda r: (r.source_updated_at or r.updated_at, r.id))
    for record in records:
        contact = session.get(Contact, record.contact_id)
        if contact is not None:
            _apply_snapshot(contact, record)


def _apply_snapshot(contact: Contact, record: SourceRecord) -> None:
    columns = {c: getattr(contact, c) for c in CONTACT_COLUMNS}
    attributes, lineage = dict(contact.attributes or {}), dict(contact.lineage or {})
    origin = {
        "connector": record.connector,
        "object_type": record.object_type,
        "external_id": record.external_id,
        "at": (record.source_updated_at or record.updated_at).isoformat(),
    }
    fields = {k: v for k, v in record.snapshot.items() if not k.startswith("_")}
    apply_fields(columns, attributes, lineage, fields, origin)
    for name, value in columns.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
    contact.attributes, contact.lineage = attributes, lineage


def merge_json(merge: Merge) -> dict[str, Any]:
    """A merge as the CLI, the admin API and ``explain`` show it."""
    undo = merge.undo or {}
    return {
        "id": merge.id,
        "kind": merge.kind,
        "survivor_id": merge.survivor_id,
        "merged_id": merge.merged_id,
        "rule": merge.rule,
        "evidence": merge.evidence,
        "score": merge.score,
        "actor": merge.actor,
        "at": merge.created_at.isoformat(),
        "moved": {
            name: len(undo.get(name, []))
            for name in ("source_records", "identifiers_moved", "interactions")
        },
        "undone_at": merge.undone_at.isoformat() if merge.undone_at else None,
        "undone_by": merge.undone_by,
    }


def list_merges(
    session: Session,
    *,
    contact_id: str | None = None,
    include_undone: bool = True,
    limit: int = 100,
    before_id: int | None = None,
) -> list[dict[str, Any]]:
    """Merges, newest first; ``contact_id`` keeps those it took part in."""
    query = select(Merge).order_by(Merge.id.desc()).limit(limit)
    if contact_id is not None:
        query = query.where(or_(Merge.survivor_id == contact_id, Merge.merged_id == contact_id))
    if not include_undone:
        query = query.where(Merge.undone_at.is_(None))
    if before_id is not None:
        query = query.where(Merge.id < before_id)
    return [merge_json(m) for m in session.scalars(query)]
