"""Assemble one customer's context: who they are, what happened on every channel,
what is still open, and hints to route them. The context API answers with it and
every screen pop carries it, built once per pop.

This is the hot path of a ringing call (the goal is a p99 under 5 ms on a store of a
million contacts), so it reads with hand-written statements on the session's own DBAPI
connection instead of ORM queries: who holds the identifier, and six small reads aimed
at that holder (identifiers, source records, the recent timeline, open items, the
current journey, candidates with their names). SQLite runs them as statements in
process. PostgreSQL gets them as one statement (each part a JSON array of rows, the
holder resolved once): one plan, one executor start and one result instead of seven,
which at 1M contacts took the server part of a lookup from ~1 ms to ~0.5 ms and the
client's driver work from 0.49 to 0.18 ms; a worker batch's pops send one such
statement per contact in one round trip (psycopg pipeline mode). Only when the holder
was merged, or several contacts share the value, is the context read again for the
contact shown. Each read takes only the columns the answer shows, through an index on
the contact (``ix_interactions_contact_time`` serves both timeline reads with their
LIMIT). ``bench/context.py`` measures it; ``tests/integration/
test_context_api.py`` and ``test_context_reads.py`` keep the answer.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hub.identity.rules import DEFAULT_RULES, IdentityRules
from hub.plugin import Connector

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
#: Stored identity candidates shown with a context (as ``candidates_for``'s default).
CANDIDATES = 5
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


# Statements in psycopg's paramstyle ("?" for SQLite is substituted below).
_SQL = {
    "holders": "SELECT :contact FROM identifiers i JOIN contacts c "
    "ON c.id = i.contact_id WHERE i.kind = %s AND i.value = %s",
    "contact": "SELECT :contact FROM contacts c WHERE c.id = %s",
    "activity": "SELECT contact_id, max(occurred_at) FROM interactions "
    "WHERE contact_id IN ({ids}) GROUP BY contact_id",
    "names": "SELECT id, display_name FROM contacts WHERE id IN ({ids})",
}
_CONTACT_COLUMNS = (
    "c.id, c.display_name, c.first_name, c.last_name, c.company, c.language, c.tier, "
    "c.merged_into_id"
)
#: Whose context the statements below read: a contact id, or the one holder of an
#: identifier (sent with the holders statement before it is known to be one).
_TARGET = {
    "id": "SELECT %s AS id",
    "key": "SELECT c.id FROM identifiers i JOIN contacts c ON c.id = i.contact_id "
    "WHERE i.kind = %s AND i.value = %s ORDER BY c.id LIMIT 1",
}
#: The context of the target (``:cid``), each statement through an index on the contact.
_CONTEXT = (
    ("identifiers", "SELECT kind, value FROM identifiers WHERE contact_id = :cid ORDER BY id"),
    (
        "records",
        "SELECT connector, object_type, external_id, deleted_at FROM source_records "
        "WHERE contact_id = :cid ORDER BY id",
    ),
    (
        "recent",
        "SELECT id, channel, direction, occurred_at, status, summary, agent, connector, "
        "source_ref, data FROM interactions WHERE contact_id = :cid "
        "ORDER BY occurred_at DESC, id DESC LIMIT %s",
    ),
    (
        "open",
        "SELECT connector, source_ref, channel, status, summary, occurred_at "
        "FROM interactions WHERE contact_id = :cid AND status IN (:open) "
        "ORDER BY occurred_at DESC LIMIT %s",
    ),
    (
        "journey",
        "SELECT id, started_at, last_at, channels, interactions, channel_switches "
        "FROM journeys WHERE contact_id = :cid ORDER BY last_at DESC LIMIT 1",
    ),
    (
        # hub.identity.candidates.candidates_for, with the other contact's name joined in.
        "candidates",
        "SELECT m.contact_id, m.candidate_id, m.score, o.display_name "
        "FROM match_candidates m JOIN contacts o ON o.id = CASE WHEN m.contact_id = :cid "
        "THEN m.candidate_id ELSE m.contact_id END WHERE m.status = 'open' "
        "AND (m.contact_id = :cid OR m.candidate_id = :cid) "
        "ORDER BY m.score DESC, m.id LIMIT %s",
    ),
)
_SQL = {name: sql.replace(":contact", _CONTACT_COLUMNS) for name, sql in _SQL.items()}
_OPEN = ", ".join(f"'{s}'" for s in OPEN_STATUSES)
for _kind, _target in _TARGET.items():
    for _name, _body in _CONTEXT:
        _body = _body.replace(":cid", "(SELECT id FROM target)").replace(":open", _OPEN)
        _SQL[f"{_name}:{_kind}"] = "WITH target AS (" + _target + ") " + _body
_SQLITE = {name: sql.replace("%s", "?") for name, sql in _SQL.items()}


def _json_rows(columns: str, source: str, order: str = "") -> str:
    """A scalar subquery: the rows of ``source`` as one JSON array of arrays."""
    order = f" ORDER BY {order}" if order else ""
    return f"(SELECT json_agg(json_build_array({columns}){order}) FROM {source})"  # noqa: S608 - constants


def _rows_of(name: str) -> str:
    """A :data:`_CONTEXT` statement aimed at the target, as a FROM source."""
    body = dict(_CONTEXT)[name].replace(":cid", "(SELECT id FROM target)")
    return "(" + body.replace(":open", _OPEN) + ") AS part"


#: PostgreSQL: the first part of the one-statement context (the lookup's holders, or
#: the contact row), then the six reads of :data:`_CONTEXT` as JSON arrays of rows.
_PG_FIRST = {
    "key": _json_rows(
        _CONTACT_COLUMNS,
        "identifiers i JOIN contacts c ON c.id = i.contact_id WHERE i.kind = %s AND i.value = %s",
    ),
    "id": _json_rows(_CONTACT_COLUMNS, "contacts c WHERE c.id = (SELECT id FROM target)"),
}
_PG_PARTS = (
    _json_rows(
        "kind, value", _rows_of("identifiers").replace("SELECT kind", "SELECT id, kind"), "id"
    ),
    _json_rows(
        "connector, object_type, external_id, deleted_at",
        _rows_of("records").replace("SELECT connector", "SELECT id, connector"),
        "id",
    ),
    _json_rows(
        "id, channel, direction, occurred_at, status, summary, agent, connector, source_ref, data",
        _rows_of("recent"),
        "occurred_at DESC, id DESC",
    ),
    _json_rows(
        "connector, source_ref, channel, status, summary, occurred_at",
        _rows_of("open"),
        "occurred_at DESC",
    ),
    _json_rows(
        "id, started_at, last_at, channels, interactions, channel_switches", _rows_of("journey")
    ),
    _json_rows(
        "contact_id, candidate_id, score, display_name",
        _rows_of("candidates").replace("SELECT m.contact_id", "SELECT m.id, m.contact_id"),
        "score DESC, id",
    ),
)
for _kind, _target in _TARGET.items():
    _SQL[f"context:{_kind}"] = (
        f"WITH target AS MATERIALIZED ({_target}) SELECT {_PG_FIRST[_kind]}, "
        + ", ".join(_PG_PARTS)
    )


class _Reader:
    """Runs statements on the DBAPI connection under ``conn`` (inside its transaction,
    so a pop sees the rows its own transaction just wrote)."""

    def __init__(self, conn: Connection) -> None:
        self.driver: Any = conn.connection.driver_connection
        self.pg = conn.dialect.name == "postgresql"
        self.sql = _SQL if self.pg else _SQLITE

    def one(self, name: str, params: Sequence[Any], **fmt: str) -> list[Any]:
        return self.many([(name, params, fmt)])[0]

    def many(self, queries: Sequence[tuple[str, Sequence[Any], Mapping[str, str]]]) -> list[Any]:
        texts = [
            (self.sql[name].format(**fmt) if fmt else self.sql[name], params)
            for name, params, fmt in queries
        ]
        if not self.pg:
            cursor = self.driver.cursor()
            try:
                return [cursor.execute(sql, params).fetchall() for sql, params in texts]
            finally:
                cursor.close()
        if len(texts) == 1:
            with self.driver.cursor() as cursor:
                cursor.execute(*texts[0])
                return [cursor.fetchall()]
        cursors = [self.driver.cursor() for _ in texts]
        try:
            with self.driver.pipeline():  # one round trip for them all
                for cursor, (sql, params) in zip(cursors, texts, strict=True):
                    cursor.execute(sql, params)
            return [cursor.fetchall() for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()

    def placeholders(self, count: int) -> str:
        return ", ".join(["%s" if self.pg else "?"] * count)


def _connection(session: Session, *, read_only: bool = False) -> Connection:
    """The session's connection. A read-only lookup on PostgreSQL runs in autocommit:
    no BEGIN, and no ROLLBACK round trip when the connection goes back to the pool
    (each statement reads its own snapshot; a context is a glance, not a report)."""
    if (
        read_only
        and not session.in_transaction()
        and session.get_bind().dialect.name == ("postgresql")
    ):
        return session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    session.flush()  # raw statements do not autoflush
    return session.connection()


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


def _follow(reader: _Reader, row: ContactRow) -> ContactRow | None:
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
    reader = _Reader(_connection(session))
    found = reader.one("contact", (contact_id,))
    return _follow(reader, ContactRow(*found[0])) if found else None


def _context_queries(
    target: str, params: Sequence[Any], recent: int
) -> list[tuple[str, Sequence[Any], Mapping[str, str]]]:
    """The six context statements for the contact ``target`` names (``id`` or ``key``)."""
    limits = {"recent": recent, "open": recent, "candidates": CANDIDATES}
    return [
        (f"{name}:{target}", (*params, limits[name]) if name in limits else tuple(params), {})
        for name, _ in _CONTEXT
    ]


def _pg_context(target: str, params: Sequence[Any], recent: int) -> tuple[str, Sequence[Any]]:
    """PostgreSQL's one statement for ``target`` (``id`` or ``key``), with its parameters
    in the order they appear: the target, the key again for its holders, the limits."""
    first = tuple(params) if target == "key" else ()
    return f"context:{target}", (*params, *first, recent, recent, CANDIDATES)


def _split(row: Sequence[Any]) -> tuple[list[Any], list[list[Any]]]:
    """The one statement's row as the statements' rows: the first part, then the six."""
    first, *context = (list(part) if part is not None else [] for part in row)
    return first, context


def _context_of(reader: _Reader, contact_id: str, recent: int) -> list[list[Any]]:
    """The six context reads for one contact."""
    if reader.pg:
        return _split(reader.one(*_pg_context("id", (contact_id,), recent))[0])[1]
    return reader.many(_context_queries("id", (contact_id,), recent))


def _holders(reader: _Reader, rows: list[ContactRow]) -> list[ContactRow]:
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
    session: Session,
    kind: str,
    value: str,
    *,
    connectors: Mapping[str, Connector],
    vip_tiers: Sequence[str] = (),
    rules: IdentityRules = DEFAULT_RULES,
    recent: int = RECENT,
) -> dict[str, Any] | None:
    """The context of whoever holds ``kind:value`` (None: nobody does).

    One holder: confidence 1. Several (a shared number): the most recently active is
    shown, every holder is a candidate with an equal share of the confidence.

    On PostgreSQL the context statements go with the lookup, aimed at its first
    holder: when that holder is the only one and not merged (nearly always), the answer
    takes one round trip; otherwise they are read again for the right contact.
    """
    reader = _Reader(_connection(session, read_only=True))
    key = rules.normalise(kind, value)
    if reader.pg:  # one statement: a round trip saved is worth reads that may go unused
        found, context = _split(reader.one(*_pg_context("key", key, recent))[0])
    else:  # in process: nothing to save, so nothing read in vain
        found, context = reader.one("holders", key), []
    rows = [ContactRow(*r) for r in found]
    if len(rows) == 1 and rows[0].merged_into_id is None:
        match = Match(matched_on=(kind, value), confidence=1.0)
        if not context:
            context = _context_of(reader, rows[0].id, recent)
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
    context = _context_of(reader, contact.id, recent)
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
    reader = _Reader(_connection(session))
    unique = list(dict.fromkeys(contact_ids))
    parts: list[tuple[list[Any], list[list[Any]]]]
    if reader.pg:
        answers = reader.many([(*_pg_context("id", (c,), recent), {}) for c in unique])
        parts = [_split(rows[0]) for rows in answers]
    else:
        queries = []
        for contact_id in unique:
            queries += [
                ("contact", (contact_id,), {}),
                *_context_queries("id", (contact_id,), recent),
            ]
        answers = reader.many(queries)
        width = len(_CONTEXT) + 1
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
            context = _context_of(reader, contact.id, recent)
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
    reader: _Reader,
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
