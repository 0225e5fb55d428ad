"""Assemble one customer's context: who they are, what happened on every channel,
what is still open, and hints to route them. The context API answers with it and
every screen pop carries it, built once per pop.

This is the hot path of a ringing call (the goal is a p99 under 5 ms on a store of a
million contacts): :mod:`hub.context_reads` reads the rows (one PostgreSQL statement, or
seven small SQLite ones), this module follows merges, picks the holder shown when
several share a value, and assembles the answer. Only when the holder was merged, or
several contacts share the value, is the context read again for the contact shown.
``bench/context.py`` measures it; ``tests/integration/test_context_api.py`` and
``test_context_reads.py`` keep the answer.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from hub.context_reads import (
    CONTEXT_PARTS,
    Reader,
    connection_for,
    context_of,
    context_queries,
    pg_context,
    split_row,
)
from hub.identity.rules import DEFAULT_RULES, IdentityRules
from hub.plugin import Connector

RECENT = 20
#: How many merges a lookup follows to the surviving contact (a chain is a bug).
MAX_MERGE_HOPS = 20


@dataclass(frozen=True)
class Match:
    """How the contact was found: the identifier, a confidence, other candidates."""

    matched_on: tuple[str, str] | None
    confidence: float
    candidates: Sequence[tuple[str, float]] = ()


class ContactRow(NamedTuple):
    """The contact columns a context shows."""

    id: str
    display_name: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    language: str | None
    tier: str | None
    merged_into_id: str | None


def _utc(value: Any) -> datetime | None:
    """A stored time, aware in UTC, from either store: PostgreSQL hands back aware
    datetimes, SQLite naive UTC text (as ``hub.store.coltypes.UTCDateTime`` does)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _iso(value: Any) -> str | None:
    at = _utc(value)
    return at.isoformat() if at is not None else None


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def _follow(reader: Reader, row: ContactRow) -> ContactRow | None:
    """Follow merges to the surviving contact."""
    seen: set[str] = set()
    current: ContactRow | None = row
    while current is not None and current.merged_into_id and current.id not in seen:
        if len(seen) >= MAX_MERGE_HOPS:
            break
        seen.add(current.id)
        found = reader.one("contact", (current.merged_into_id,))
        current = ContactRow(*found[0]) if found else None
    return current


def live_contact_row(session: Session, contact_id: str) -> ContactRow | None:
    """The contact ``contact_id`` or, if it was merged, the one it survives in."""
    reader = Reader.of(connection_for(session))
    found = reader.one("contact", (contact_id,))
    return _follow(reader, ContactRow(*found[0])) if found else None


def _holders(reader: Reader, rows: list[ContactRow]) -> list[ContactRow]:
    """As ``hub.identity.find_contacts``: the holders (a merged one by its survivor) in
    id order, each followed to the live contact, once each."""
    by_id = {r.id: r for r in rows}
    holders: dict[str, ContactRow] = {}
    for contact_id in sorted({r.merged_into_id or r.id for r in rows}):
        row = by_id.get(contact_id)
        if row is None:
            found = reader.one("contact", (contact_id,))
            row = ContactRow(*found[0]) if found else None
        live = _follow(reader, row) if row is not None else None
        if live is not None:
            holders.setdefault(live.id, live)
    return list(holders.values())


def context_for_lookup(
    reader: Reader,
    kind: str,
    value: str,
    *,
    connectors: Mapping[str, Connector],
    vip_tiers: Sequence[str] = (),
    rules: IdentityRules = DEFAULT_RULES,
    recent: int = RECENT,
) -> dict[str, Any] | None:
    """The context of whoever holds ``kind:value`` (None: nobody does), read with
    ``reader`` (:func:`hub.context_reads.lookup_reader`).

    One holder: confidence 1. Several (a shared number): the most recently active is
    shown, every holder is a candidate with an equal share of the confidence.

    On PostgreSQL the context statements go with the lookup, aimed at its first
    holder: when that holder is the only one and not merged (nearly always), the answer
    takes one round trip; otherwise they are read again for the right contact.
    """
    key = rules.normalise(kind, value)
    if reader.pg:  # one statement: a round trip saved is worth reads that may go unused
        found, context = split_row(reader.one(*pg_context("key", key, recent))[0])
    else:  # in process: nothing to save, so nothing read in vain
        found, context = reader.one("holders", key), []
    rows = [ContactRow(*r) for r in found]
    if len(rows) == 1 and rows[0].merged_into_id is None:
        match = Match(matched_on=(kind, value), confidence=1.0)
        if not context:
            context = context_of(reader, rows[0].id, recent)
        return _assemble(reader, rows[0], match, {}, context, connectors, vip_tiers)
    unique = _holders(reader, rows)
    if not unique:
        return None
    names = {c.id: c.display_name for c in unique}
    if len(unique) == 1:
        contact, match = unique[0], Match(matched_on=(kind, value), confidence=1.0)
    else:
        ids = [c.id for c in unique]
        last = reader.one("activity", ids, ids=reader.placeholders(len(ids)))
        activity = {contact_id: _utc(at) for contact_id, at in last}

        def recency(c: ContactRow) -> tuple[bool, float]:
            at = activity.get(c.id)
            return at is not None, at.timestamp() if at is not None else 0

        ranked = sorted(unique, key=recency, reverse=True)
        share = round(1 / len(ranked), 3)
        contact = ranked[0]
        match = Match(
            matched_on=(kind, value),
            confidence=share,
            candidates=[(c.id, share) for c in ranked[1:]],
        )
    context = context_of(reader, contact.id, recent)
    return _assemble(reader, contact, match, names, context, connectors, vip_tiers)


def context_for_contact(
    session: Session,
    contact_id: str,
    *,
    connectors: Mapping[str, Connector],
    match: Match,
    vip_tiers: Sequence[str] = (),
    recent: int = RECENT,
) -> dict[str, Any] | None:
    """The context of ``contact_id`` (or the contact it was merged into); None when it
    is gone. One round trip unless it was merged."""
    return contexts_for_contacts(
        session,
        [contact_id],
        connectors=connectors,
        match=match,
        vip_tiers=vip_tiers,
        recent=recent,
    )[contact_id]


def contexts_for_contacts(
    session: Session,
    contact_ids: Sequence[str],
    *,
    connectors: Mapping[str, Connector],
    match: Match,
    vip_tiers: Sequence[str] = (),
    recent: int = RECENT,
) -> dict[str, dict[str, Any] | None]:
    """:func:`context_for_contact` for many contacts (a worker batch's pops): on
    PostgreSQL every statement of every contact goes in one round trip."""
    reader = Reader.of(connection_for(session))
    unique = list(dict.fromkeys(contact_ids))
    parts: list[tuple[list[Any], list[list[Any]]]]
    if reader.pg:
        answers = reader.many([(*pg_context("id", (c,), recent), {}) for c in unique])
        parts = [split_row(rows[0]) for rows in answers]
    else:
        queries = []
        for contact_id in unique:
            queries += [
                ("contact", (contact_id,), {}),
                *context_queries("id", (contact_id,), recent),
            ]
        answers = reader.many(queries)
        width = CONTEXT_PARTS + 1
        parts = [(answers[n], answers[n + 1 : n + width]) for n in range(0, len(answers), width)]
    out: dict[str, dict[str, Any] | None] = {}
    for contact_id, (found, context) in zip(unique, parts, strict=True):
        if not found:
            out[contact_id] = None
            continue
        contact = ContactRow(*found[0])
        if contact.merged_into_id is not None:
            live = _follow(reader, contact)
            if live is None:
                out[contact_id] = None
                continue
            contact = live
            context = context_of(reader, contact.id, recent)
        out[contact_id] = _assemble(reader, contact, match, {}, context, connectors, vip_tiers)
    return out


def _routing(
    contact: ContactRow, recent: list[dict[str, Any]], vip_tiers: Sequence[str]
) -> dict[str, Any]:
    inbound = [i["channel"] for i in recent if i["direction"] == "inbound"]
    preferred = Counter(inbound).most_common(1)
    return {
        "last_agent": next((i["agent"] for i in recent if i["agent"]), None),
        "preferred_channel": preferred[0][0] if preferred else None,
        "language": contact.language,
        "vip": bool(contact.tier and contact.tier.lower() in {t.lower() for t in vip_tiers}),
    }


def _assemble(
    reader: Reader,
    contact: ContactRow,
    match: Match,
    names: Mapping[str, str | None],
    results: Sequence[list[Any]],
    connectors: Mapping[str, Connector],
    vip_tiers: Sequence[str],
) -> dict[str, Any]:
    """The whole context as JSON-ready data, from the six statements' rows.

    ``names``: display names of contacts already read (the lookup's holders), so
    only the others are read again.
    """
    identifiers, records, timeline, open_rows, journeys, stored = results
    cid = contact.id
    candidates = list(match.candidates)
    known: dict[str, str | None] = dict(names)
    shown = {cid, *(c for c, _ in candidates)}
    # Stored similarity candidates (hub/identity/candidates.py): the agent can
    # confirm or reject them during the call (POST /agent/match).
    for left, right, score, name in stored:
        other = right if left == cid else left
        known.setdefault(other, name)
        if other not in shown:
            candidates.append((other, score))
            shown.add(other)
    missing = [c for c, _ in candidates if c not in known]
    if missing:
        found = reader.one("names", missing, ids=reader.placeholders(len(missing)))
        known.update(dict.fromkeys(missing))
        known.update(dict(found))
    interactions = [
        {
            "id": row[0],
            "contact_id": cid,
            "channel": row[1],
            "direction": row[2],
            "occurred_at": _iso(row[3]),
            "status": row[4],
            "summary": row[5],
            "agent": row[6],
            "source": {"connector": row[7], "ref": row[8]},
            "data": _json(row[9]),
        }
        for row in timeline
    ]
    identities = []
    for connector_name, object_type, external_id, deleted_at in records:
        connector = connectors.get(connector_name)
        link = connector.deep_link(object_type, external_id) if connector else None
        identities.append(
            {
                "connector": connector_name,
                "object_type": object_type,
                "external_id": external_id,
                "deep_link": link,
                "deleted": deleted_at is not None,
            }
        )
    journey = None
    if journeys:
        jid, started, last, channels, count, switches = journeys[0]
        journey = {
            "id": jid,
            "started_at": _iso(started),
            "last_at": _iso(last),
            "channels": _json(channels),
            "interactions": count,
            "channel_switches": switches,
        }
    return {
        "contact": {
            "id": cid,
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
        "identities": identities,
        "interactions": interactions,
        "open_items": [
            {
                "connector": connector_name,
                "ref": ref,
                "channel": channel,
                "status": status,
                "summary": summary,
                "occurred_at": _iso(at),
            }
            for connector_name, ref, channel, status, summary, at in open_rows
        ],
        "journey": journey,
        "match": {
            "confidence": match.confidence,
            "matched_on": (
                {"kind": match.matched_on[0], "value": match.matched_on[1]}
                if match.matched_on
                else None
            ),
            "candidates": [
                {"contact_id": c, "confidence": score, "display_name": known.get(c)}
                for c, score in candidates
            ],
        },
        "routing": _routing(contact, interactions, vip_tiers),
    }
