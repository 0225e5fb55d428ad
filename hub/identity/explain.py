"""``explain``: why a contact holds each of its records and identifiers, and its merges."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import Session

from hub.identity.candidates import candidates_for
from hub.identity.merge import live_id, merge_json
from hub.store.models import Contact, Identifier, IdentityLink, Merge, SourceRecord


def _reason(
    link: IdentityLink | None, via: dict[int, Merge], record: SourceRecord
) -> dict[str, Any]:
    out: dict[str, Any] = {"rule": "unknown", "at": None}
    if link is not None:
        out = {
            "rule": link.rule,
            "key": {"kind": link.kind, "value": link.value} if link.kind else None,
            "ambiguous": [{"kind": k, "value": v} for k, v in link.ambiguous],
            "first_contact": link.contact_id,
            "at": link.linked_at.isoformat(),
        }
    merge = via.get(record.id)
    if merge is not None:
        out["via_merge"] = {"id": merge.id, "rule": merge.rule, "from": merge.merged_id}
    return out


def explain(session: Session, contact_id: str) -> dict[str, Any]:
    """Everything that explains ``contact_id``: each source record with the rule and
    key that linked it (and the merge that brought it here), each identifier with
    the connector that indexed it, the merge history and the open candidates.

    Raises LookupError for an unknown contact. A merged contact is explained as it
    is (with ``merged_into`` and ``live_id`` naming its survivor).
    """
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise LookupError(f"no contact {contact_id}")
    records = list(
        session.scalars(
            select(SourceRecord)
            .where(SourceRecord.contact_id == contact_id)
            .order_by(SourceRecord.id)
        )
    )
    triples = [(r.connector, r.object_type, r.external_id) for r in records]
    links = {}
    if triples:
        links = {
            (lk.connector, lk.object_type, lk.external_id): lk
            for lk in session.scalars(
                select(IdentityLink).where(
                    tuple_(
                        IdentityLink.connector, IdentityLink.object_type, IdentityLink.external_id
                    ).in_(triples)
                )
            )
        }
    merges = list(
        session.scalars(
            select(Merge)
            .where(or_(Merge.survivor_id == contact_id, Merge.merged_id == contact_id))
            .order_by(Merge.id)
        )
    )
    via: dict[int, Merge] = {}
    for merge in merges:
        if merge.undone_at is None and merge.survivor_id == contact_id:
            for record_id in merge.undo.get("source_records", []):
                via[record_id] = merge
    identifiers = session.scalars(
        select(Identifier).where(Identifier.contact_id == contact_id).order_by(Identifier.id)
    )
    return {
        "contact_id": contact.id,
        "display_name": contact.display_name,
        "merged_into": contact.merged_into_id,
        "live_id": live_id(session, contact.id),
        "records": [
            {
                "connector": r.connector,
                "object_type": r.object_type,
                "external_id": r.external_id,
                "deleted": r.deleted_at is not None,
                "linked": _reason(links.get((r.connector, r.object_type, r.external_id)), via, r),
            }
            for r in records
        ],
        "identifiers": [
            {
                "kind": i.kind,
                "value": i.value,
                "source_connector": i.source_connector,
                "since": i.created_at.isoformat(),
            }
            for i in identifiers
        ],
        "fields": {
            name: {"value": _field_value(contact, name), **origin}
            for name, origin in sorted((contact.lineage or {}).items())
        },
        "merges": [merge_json(m) for m in merges],
        "candidates": [
            {"contact_id": other, "score": value}
            for other, value in candidates_for(session, contact.id, limit=20)
        ],
    }


def _field_value(contact: Contact, name: str) -> Any:
    if name.startswith("attributes."):
        return (contact.attributes or {}).get(name.removeprefix("attributes."))
    return getattr(contact, name, None)
