"""Erasure: forget a person everywhere the hub keeps them (the GDPR/CCPA request).

The hub deletes the contact (and contacts merged into it), their identifiers, source
links, interactions, journeys, pops and queued pushes, and every inbox event and raw
request that mentions one of their identifiers or source ids. It cannot erase them
from the connected systems, so it reports which records there still hold them. The
audit log keeps that it happened, with counts, never the values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from hub.store.models import (
    AuditEntry,
    Contact,
    Delivery,
    Identifier,
    InboxEvent,
    Interaction,
    Journey,
    Pop,
    RawDelivery,
    SourceRecord,
)


@dataclass
class ForgetReport:
    """What was erased here, and what the connected systems still hold."""

    contacts: int = 0
    deleted: dict[str, int] = field(default_factory=dict)
    still_in_sources: list[dict[str, str]] = field(default_factory=list)


def _cluster(session: Session, contact_id: str) -> list[str]:
    """The contact and every contact merged into it, transitively."""
    found, frontier = {contact_id}, [contact_id]
    while frontier:
        merged = session.scalars(select(Contact.id).where(Contact.merged_into_id.in_(frontier)))
        frontier = [c for c in merged if c not in found]
        found.update(frontier)
    return sorted(found)


def _spellings(value: str) -> list[str]:
    """How a stored E.164 number may have been written in a raw payload."""
    if not value.startswith("+"):
        return []
    try:
        number = phonenumbers.parse(value)
    except phonenumbers.NumberParseException:
        return []
    formats = (
        phonenumbers.PhoneNumberFormat.NATIONAL,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    )
    spelled = [phonenumbers.format_number(number, f) for f in formats]
    national = str(number.national_number)
    spaced = [text.replace("-", " ").replace("(", "").replace(")", "") for text in spelled]
    grouped = (
        [
            f"{national[:3]}-{national[3:6]}-{national[6:]}",
            f"{national[:3]} {national[3:6]} {national[6:]}",
        ]
        if len(national) == 10
        else []
    )
    return [*spelled, *spaced, *grouped, value.lstrip("+"), national]


def _as_text(session: Session, column: Any) -> Any:
    """A JSON or bytes column as searchable text on either store."""
    if session.get_bind().dialect.name == "postgresql" and column.type.python_type is bytes:
        return func.encode(column, "escape")  # bytea → text, ASCII kept as is
    return cast(column, String)


def _mentions(session: Session, column: Any, needles: list[str]) -> Any:
    text = _as_text(session, column)
    return or_(*(text.contains(needle, autoescape=True) for needle in needles))


def forget_contact(session: Session, contact_id: str, *, actor: str) -> ForgetReport | None:
    """Erase ``contact_id`` in the caller's transaction; None when it does not exist."""
    if session.get(Contact, contact_id) is None:
        return None
    ids = _cluster(session, contact_id)
    report = ForgetReport(contacts=len(ids))
    values = [
        v
        for k, v in session.execute(
            select(Identifier.kind, Identifier.value).where(Identifier.contact_id.in_(ids))
        )
        if not k.startswith("unresolved:")
    ]
    records = session.scalars(select(SourceRecord).where(SourceRecord.contact_id.in_(ids))).all()
    report.still_in_sources = [
        {"connector": r.connector, "object_type": r.object_type, "external_id": r.external_id}
        for r in records
        if r.deleted_at is None
    ]
    needles = sorted(
        {
            *values,
            *(v for value in values for v in _spellings(value)),
            *(r.external_id for r in records),
        }
    )
    steps: list[tuple[str, Any]] = [
        ("deliveries", delete(Delivery).where(Delivery.contact_id.in_(ids))),
        ("pops", delete(Pop).where(Pop.contact_id.in_(ids))),
        ("interactions", delete(Interaction).where(Interaction.contact_id.in_(ids))),
        ("journeys", delete(Journey).where(Journey.contact_id.in_(ids))),
        ("identifiers", delete(Identifier).where(Identifier.contact_id.in_(ids))),
        ("source_records", delete(SourceRecord).where(SourceRecord.contact_id.in_(ids))),
    ]
    if needles:
        in_inbox = _mentions(session, InboxEvent.payload, needles)
        in_raw = _mentions(session, RawDelivery.body, needles)
        steps += [
            ("inbox_events", delete(InboxEvent).where(in_inbox)),
            ("raw_deliveries", delete(RawDelivery).where(in_raw)),
        ]
    for name, statement in steps:
        result = session.execute(statement.execution_options(synchronize_session=False))
        report.deleted[name] = int(getattr(result, "rowcount", 0) or 0)
    session.execute(
        update(Contact)
        .where(Contact.merged_into_id.in_(ids))
        .values(merged_into_id=None)
        .execution_options(synchronize_session=False)
    )
    report.deleted["contacts"] = int(
        getattr(session.execute(delete(Contact).where(Contact.id.in_(ids))), "rowcount", 0) or 0
    )
    session.add(
        AuditEntry(
            actor=actor,
            action="contact.forgotten",
            subject=contact_id,
            details={"deleted": report.deleted, "still_in_sources": len(report.still_in_sources)},
        )
    )
    return report
