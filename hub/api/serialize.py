"""Stable JSON shapes for contacts and interactions (kept by the context API later)."""

from __future__ import annotations

from typing import Any

from hub.store.models import Contact, Identifier, Interaction, SourceRecord


def contact_json(
    contact: Contact, records: list[SourceRecord], identifiers: list[Identifier]
) -> dict[str, Any]:
    return {
        "id": contact.id,
        "display_name": contact.display_name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "company": contact.company,
        "language": contact.language,
        "tier": contact.tier,
        "attributes": contact.attributes,
        "identities": [
            {
                "connector": r.connector,
                "object_type": r.object_type,
                "external_id": r.external_id,
                "source_updated_at": _iso(r.source_updated_at),
                "deleted": r.deleted_at is not None,
            }
            for r in records
        ],
        "identifiers": [
            {"kind": i.kind, "value": i.value}
            for i in identifiers
            if not i.kind.startswith(("record:", "unresolved:"))
        ],
        "lineage": contact.lineage,
        "created_at": _iso(contact.created_at),
        "updated_at": _iso(contact.updated_at),
    }


def interaction_json(item: Interaction) -> dict[str, Any]:
    return {
        "id": item.id,
        "contact_id": item.contact_id,
        "channel": item.channel,
        "direction": item.direction,
        "occurred_at": _iso(item.occurred_at),
        "status": item.status,
        "summary": item.summary,
        "agent": item.agent,
        "source": {"connector": item.connector, "ref": item.source_ref},
        "data": item.data,
    }


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None
