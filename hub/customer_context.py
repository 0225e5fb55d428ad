"""Assemble one customer's context: who they are, what happened on every channel,
what is still open, and hints to route them. The context API answers with it and
every screen pop carries it, built once per pop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.api.serialize import interaction_json
from hub.identity.candidates import candidates_for
from hub.plugin import Connector
from hub.store.models import Contact, Identifier, Interaction, Journey, SourceRecord

#: Statuses of cases, tickets and conversations that still need someone.
OPEN_STATUSES = (
    "new",
    "open",
    "pending",
    "hold",
    "on-hold",
    "waiting",
    "escalated",
    "working",
    "in-progress-case",
)
RECENT = 20


@dataclass(frozen=True)
class Match:
    """How the contact was found: the identifier, a confidence, other candidates."""

    matched_on: tuple[str, str] | None
    confidence: float
    candidates: Sequence[tuple[str, float]] = ()


def live_contact(session: Session, contact_id: str) -> Contact | None:
    contact = session.get(Contact, contact_id)
    seen: set[str] = set()
    while contact is not None and contact.merged_into_id and contact.id not in seen:
        seen.add(contact.id)
        contact = session.get(Contact, contact.merged_into_id)
    return contact


def _identities(
    session: Session, contact: Contact, connectors: Mapping[str, Connector]
) -> list[dict[str, Any]]:
    records = session.scalars(
        select(SourceRecord).where(SourceRecord.contact_id == contact.id).order_by(SourceRecord.id)
    )
    out = []
    for record in records:
        connector = connectors.get(record.connector)
        link = connector.deep_link(record.object_type, record.external_id) if connector else None
        out.append(
            {
                "connector": record.connector,
                "object_type": record.object_type,
                "external_id": record.external_id,
                "deep_link": link,
                "deleted": record.deleted_at is not None,
            }
        )
    return out


def _journey(session: Session, contact: Contact) -> dict[str, Any] | None:
    journey = session.scalar(
        select(Journey)
        .where(Journey.contact_id == contact.id)
        .order_by(Journey.last_at.desc())
        .limit(1)
    )
    if journey is None:
        return None
    return {
        "id": journey.id,
        "started_at": journey.started_at.isoformat(),
        "last_at": journey.last_at.isoformat(),
        "channels": journey.channels,
        "interactions": journey.interactions,
        "channel_switches": journey.channel_switches,
    }


def _routing(
    contact: Contact, recent: list[Interaction], vip_tiers: Sequence[str]
) -> dict[str, Any]:
    inbound = [i.channel for i in recent if i.direction == "inbound"]
    preferred = Counter(inbound).most_common(1)
    return {
        "last_agent": next((i.agent for i in recent if i.agent), None),
        "preferred_channel": preferred[0][0] if preferred else None,
        "language": contact.language,
        "vip": bool(contact.tier and contact.tier.lower() in {t.lower() for t in vip_tiers}),
    }


def build_context(
    session: Session,
    contact: Contact,
    *,
    connectors: Mapping[str, Connector],
    match: Match,
    vip_tiers: Sequence[str] = (),
    recent: int = RECENT,
) -> dict[str, Any]:
    """The whole context of ``contact`` as JSON-ready data."""
    identifiers = session.execute(
        select(Identifier.kind, Identifier.value)
        .where(Identifier.contact_id == contact.id)
        .order_by(Identifier.id)
    ).all()
    interactions = list(
        session.scalars(
            select(Interaction)
            .where(Interaction.contact_id == contact.id)
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
            .limit(recent)
        )
    )
    open_items = session.scalars(
        select(Interaction)
        .where(Interaction.contact_id == contact.id, Interaction.status.in_(OPEN_STATUSES))
        .order_by(Interaction.occurred_at.desc())
        .limit(recent)
    )
    candidates = list(match.candidates)
    shown = {contact.id, *(c for c, _ in candidates)}
    # Stored similarity candidates (hub/identity/candidates.py): the agent can
    # confirm or reject them during the call (POST /agent/match).
    for other, score in candidates_for(session, contact.id):
        if other not in shown:
            candidates.append((other, score))
            shown.add(other)
    names = {c: session.get(Contact, c) for c, _ in candidates}
    return {
        "contact": {
            "id": contact.id,
            "display_name": contact.display_name,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "company": contact.company,
            "language": contact.language,
            "tier": contact.tier,
            "identifiers": [
                {"kind": k, "value": v}
                for k, v in identifiers
                if not k.startswith(("record:", "unresolved:"))
            ],
        },
        "identities": _identities(session, contact, connectors),
        "interactions": [interaction_json(i) for i in interactions],
        "open_items": [
            {
                "connector": i.connector,
                "ref": i.source_ref,
                "channel": i.channel,
                "status": i.status,
                "summary": i.summary,
                "occurred_at": i.occurred_at.isoformat(),
            }
            for i in open_items
        ],
        "journey": _journey(session, contact),
        "match": {
            "confidence": match.confidence,
            "matched_on": (
                {"kind": match.matched_on[0], "value": match.matched_on[1]}
                if match.matched_on
                else None
            ),
            "candidates": [
                {
                    "contact_id": c,
                    "confidence": score,
                    "display_name": getattr(names.get(c), "display_name", None),
                }
                for c, score in candidates
            ],
        },
        "routing": _routing(contact, interactions, vip_tiers),
    }
