"""Write mapped records into the store with survivorship and lineage.

Survivorship here is "most recent source change wins, never overwrite with empty":
each unified field remembers (in ``Contact.lineage``) which source record set it and
the source's own timestamp, and a value from an older source version never replaces
it. Replaying an event or receiving events out of order therefore changes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.identity.automerge import merge_on_keys
from hub.identity.candidate_queue import enqueue
from hub.identity.merge import merge_contacts
from hub.identity.resolve import Resolution, attach_identifiers, resolve_contact
from hub.identity.rules import DEFAULT_RULES, IdentityRules
from hub.mapping import MappedRecord
from hub.plugin import PopTrigger
from hub.store.coltypes import utcnow
from hub.store.journeys import assign_journey
from hub.store.models import AuditEntry, Contact, IdentityLink, Interaction, Pop, SourceRecord
from hub.store.survivorship import CONTACT_COLUMNS, apply_fields
from hub.transforms import parse_datetime


def find_source_record(
    session: Session, connector: str, object_type: str, external_id: str
) -> SourceRecord | None:
    return session.scalar(
        select(SourceRecord).where(
            SourceRecord.connector == connector,
            SourceRecord.object_type == object_type,
            SourceRecord.external_id == external_id,
        )
    )


def _live(session: Session, contact: Contact) -> Contact:
    """Follow merges to the surviving contact."""
    seen = set()
    while contact.merged_into_id and contact.id not in seen:
        seen.add(contact.id)
        survivor = session.get(Contact, contact.merged_into_id)
        if survivor is None:
            break
        contact = survivor
    return contact


def upsert_contact_record(
    session: Session,
    *,
    connector: str,
    object_type: str,
    external_id: str,
    mapped: MappedRecord,
    updated_at: datetime | None,
    rules: IdentityRules = DEFAULT_RULES,
) -> tuple[Contact, bool]:
    """Link a source record to its contact and apply its fields. Returns (contact, changed)."""
    record = find_source_record(session, connector, object_type, external_id)
    stale = (
        record is not None
        and record.source_updated_at is not None
        and updated_at is not None
        and updated_at < record.source_updated_at
    )
    if record is not None and stale:
        return _live(session, record.contact), False  # a stale version: keep the newer
    keys = [(record_kind(connector, object_type), external_id), *mapped.identifiers]
    created = False
    matched_on: tuple[str, str] | None = None
    holders: dict[tuple[str, str], list[str]] | None = None
    if record is None:
        resolution = resolve_contact(session, keys, rules=rules, fields=mapped.fields)
        contact, created = resolution.contact, resolution.created
        matched_on, holders = resolution.matched_on, resolution.holders
        session.add(link_row(connector, object_type, external_id, contact.id, resolution))
        record = SourceRecord(
            connector=connector,
            object_type=object_type,
            external_id=external_id,
            contact_id=contact.id,
        )
        record.contact = contact
        session.add(record)
        changed = True
    else:
        contact = _live(session, record.contact)
        changed = record.snapshot != snapshot_of(mapped) or record.deleted_at is not None
    if not created:
        # Its keys may name a second contact: one person, merged (recorded, reversible).
        session.flush()
        changed |= bool(
            merge_on_keys(
                session,
                contact,
                rules.usable(keys),
                mapped.fields,
                matched_on=matched_on,
                record=(connector, object_type, external_id),
                rules=rules,
                holders=holders,
            )
        )
    record.snapshot = snapshot_of(mapped)
    record.source_updated_at = updated_at
    record.deleted_at = None
    at = (updated_at or utcnow()).isoformat()
    origin = {
        "connector": connector,
        "object_type": object_type,
        "external_id": external_id,
        "at": at,
    }
    columns = {name: getattr(contact, name) for name in CONTACT_COLUMNS}
    attributes, lineage = dict(contact.attributes or {}), dict(contact.lineage or {})
    changed |= apply_fields(columns, attributes, lineage, mapped.fields, origin)
    for name, value in columns.items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
    if attributes != contact.attributes:
        contact.attributes = attributes
    if lineage != contact.lineage:
        contact.lineage = lineage
    attach_identifiers(
        session, contact, keys, connector=connector, new_contact=created, rules=rules
    )
    session.flush()
    if rules.candidates.enabled:
        enqueue(session, [contact.id])  # scored later, off the write path
    return contact, changed


def snapshot_of(mapped: MappedRecord) -> dict[str, Any]:
    """What a source record keeps of its mapped form: the fields, and under ``_keys``
    the identifiers as mapped (before identity rules), so ``threadline identity
    simulate`` can replay the record under other rules."""
    snapshot = dict(mapped.fields)
    if mapped.identifiers:
        snapshot["_keys"] = [[kind, value] for kind, value in mapped.identifiers]
    return snapshot


def link_row(
    connector: str, object_type: str, external_id: str, contact_id: str, resolution: Resolution
) -> IdentityLink:
    """Why a new source record joined its contact (for ``explain``)."""
    matched = resolution.matched_on
    return IdentityLink(
        connector=connector,
        object_type=object_type,
        external_id=external_id,
        contact_id=contact_id,
        rule="matched" if matched else "new",
        kind=matched[0] if matched else None,
        value=matched[1] if matched else None,
        ambiguous=[list(k) for k in resolution.ambiguous],
        linked_at=utcnow(),
    )


def delete_source_record(
    session: Session,
    *,
    connector: str,
    object_type: str,
    external_id: str,
    deleted_at: datetime | None,
) -> bool:
    """Mark a source record deleted; the contact and its timeline stay (other sources)."""
    record = find_source_record(session, connector, object_type, external_id)
    if record is None or record.deleted_at is not None:
        return False
    record.deleted_at = deleted_at or utcnow()
    session.flush()
    return True


def record_interaction(
    session: Session,
    *,
    connector: str,
    source_ref: str,
    mapped: MappedRecord,
    updated_at: datetime | None,
    journey_window: timedelta = timedelta(hours=1),
    rules: IdentityRules = DEFAULT_RULES,
) -> tuple[Interaction, bool]:
    """Insert or update one timeline entry, unique per (connector, source_ref)."""
    existing = session.scalar(
        select(Interaction).where(
            Interaction.connector == connector, Interaction.source_ref == source_ref
        )
    )
    fields = dict(mapped.fields)
    occurred = parse_datetime(fields.pop("occurred_at", None)) or updated_at or utcnow()
    data = {k.removeprefix("data."): v for k, v in fields.items() if k.startswith("data.")}
    columns = {k: v for k, v in fields.items() if not k.startswith("data.")}
    if existing is not None:
        if existing.source_updated_at and updated_at and updated_at < existing.source_updated_at:
            return existing, False
        before = (existing.status, existing.summary, existing.agent, existing.data)
        for name in ("status", "summary", "agent", "direction"):
            if columns.get(name) is not None:
                setattr(existing, name, columns[name])
        existing.data = {**existing.data, **data}
        existing.source_updated_at = updated_at or existing.source_updated_at
        session.flush()
        return existing, before != (
            existing.status,
            existing.summary,
            existing.agent,
            existing.data,
        )
    contact = _contact_for_interaction(session, connector, mapped, rules)
    interaction = Interaction(
        contact_id=contact.id,
        connector=connector,
        source_ref=source_ref,
        channel=columns.get("channel", "crm-activity"),
        direction=columns.get("direction", "inbound"),
        occurred_at=occurred,
        status=columns.get("status"),
        summary=columns.get("summary"),
        agent=columns.get("agent"),
        data=data,
        source_updated_at=updated_at,
    )
    session.add(interaction)
    session.flush()
    assign_journey(session, interaction, journey_window)
    return interaction, True


def _contact_for_interaction(
    session: Session, connector: str, mapped: MappedRecord, rules: IdentityRules = DEFAULT_RULES
) -> Contact:
    """The contact an interaction belongs to; an unknown caller becomes a new contact."""
    keys = [
        (
            record_kind(connector, kind.removeprefix("record:"))
            if kind.startswith("record:")
            else kind,
            value,
        )
        for kind, value in mapped.contact_keys
    ]
    resolution = resolve_contact(session, keys, reuse_unresolved=True, rules=rules)
    contact = _live(session, resolution.contact)
    keys += resolution.extra_keys
    created = resolution.created
    # Indexing a record key before the record itself arrives is deliberate: when the
    # contact record comes later it resolves to this same contact.
    attach_identifiers(
        session, contact, keys, connector=connector, new_contact=created, rules=rules
    )
    session.flush()
    return contact


def record_kind(connector: str, object_type: str) -> str:
    """The identifier kind that links a source record to its contact."""
    return f"record:{connector}:{object_type}"


def merge_source_records(
    session: Session,
    *,
    connector: str,
    object_type: str,
    primary_id: str,
    merged_ids: tuple[str, ...],
    merged_at: datetime | None,
) -> int:
    """Honour a merge done in the source (HubSpot ``contact.merge``, Salesforce
    ``MasterRecordId``): the merged records end, and their contacts merge into the
    primary's contact with everything they own. Each is a recorded, reversible merge
    (``merges``) and an audit entry ``contact.merge`` naming it."""
    primary = find_source_record(session, connector, object_type, primary_id)
    if primary is None:
        return 0
    changed = 0
    for merged_id in merged_ids:
        record = find_source_record(session, connector, object_type, merged_id)
        if record is None or (record.deleted_at and record.snapshot.get("_merged_into")):
            continue
        survivor = _live(session, primary.contact)
        loser = _live(session, record.contact)
        before = {
            "id": record.id,
            "snapshot": dict(record.snapshot),
            "deleted_at": record.deleted_at.isoformat() if record.deleted_at else None,
        }
        record.deleted_at = merged_at or utcnow()
        record.snapshot = {**record.snapshot, "_merged_into": primary_id}
        details: dict[str, object] = {
            "connector": connector,
            "object_type": object_type,
            "primary_id": primary_id,
            "merged_id": merged_id,
            "from_contact": loser.id,
            "into_contact": survivor.id,
            "rule": "source_merge",
        }
        if loser.id != survivor.id:
            kind = record_kind(connector, object_type)
            merge = merge_contacts(
                session,
                survivor.id,
                loser.id,
                rule="source_merge",
                actor=f"connector:{connector}",
                evidence=[
                    {"kind": kind, "value": primary_id, "role": "primary"},
                    {"kind": kind, "value": merged_id, "role": "merged"},
                ],
                score=1.0,
                extra_undo={"records_before": [before]},
            )
            details["merge_id"] = merge.id
        session.add(
            AuditEntry(
                actor=f"connector:{connector}",
                action="contact.merge",
                subject=survivor.id,
                details=details,
            )
        )
        changed += 1
    session.flush()
    return changed


def record_pop(
    session: Session,
    *,
    connector: str,
    trigger: PopTrigger,
    received_at: datetime | None = None,
    rules: IdentityRules = DEFAULT_RULES,
) -> Pop | None:
    """Record a pop trigger once per (connector, key); None when it was already there."""
    if session.scalar(
        select(Pop.id).where(Pop.connector == connector, Pop.trigger_key == trigger.key)
    ):
        return None
    interaction = None
    if trigger.interaction is not None:
        ref = f"{trigger.interaction[0]}:{trigger.interaction[1]}"
        interaction = session.scalar(
            select(Interaction).where(
                Interaction.connector == connector, Interaction.source_ref == ref
            )
        )
    contact_id = interaction.contact_id if interaction else None
    if contact_id is None and trigger.contact_keys:
        mapped = MappedRecord(
            target="interaction", fields={}, contact_keys=list(trigger.contact_keys)
        )
        contact_id = _contact_for_interaction(session, connector, mapped, rules).id
    pop = Pop(
        connector=connector,
        trigger_key=trigger.key,
        trigger=trigger.trigger,
        contact_id=contact_id,
        interaction_id=interaction.id if interaction else None,
        channel=trigger.channel or (interaction.channel if interaction else None),
        agent=trigger.agent,
        desk=trigger.desk,
        triggered_at=trigger.triggered_at or utcnow(),
        received_at=received_at or utcnow(),
    )
    session.add(pop)
    session.flush()
    return pop
