"""Write the new interactions and pops of a worker batch with a handful of statements.

The record-by-record path (:mod:`hub.store.records`) costs about a dozen round trips
per interaction: find it, lock and look up its keys, read what the contact holds, insert
it, find its journey, find the journey's previous channel, update the journey. A worker
batch of a hundred events pays that a hundred times. This path reads everything the
batch needs in a few queries (one per identifier kind), resolves and assigns journeys in
memory, in event order, and writes with executemany.

It covers *new* interactions (not in the store, not repeated in the batch); the caller
applies updates of existing ones record by record, at their place in the order. The
result is the same as the record-by-record path applied in order
(``tests/integration/test_batch_equivalence.py`` holds the two to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from hub.identity.keylocks import read_after_locks
from hub.identity.resolve import (
    UNRESOLVED_PREFIX,
    held_values,
    identifier_parameters,
    identifier_rows_statement,
)
from hub.identity.rules import IdentityRules, over_limit
from hub.mapping import MappedRecord
from hub.store.coltypes import utcnow
from hub.store.models import Contact, Identifier, Interaction, Journey, new_contact_id
from hub.store.records import record_kind
from hub.store.rowsets import among, insert_rows
from hub.transforms import parse_datetime

Key = tuple[str, str]


@dataclass(frozen=True)
class NewInteraction:
    """One interaction record of the batch, as the mapping produced it."""

    connector: str
    source_ref: str
    mapped: MappedRecord
    updated_at: datetime | None


@dataclass
class Written:
    """What the batch wrote for one interaction (for pops that refer to it)."""

    id: int
    contact_id: str
    channel: str


@dataclass
class _Journey:
    id: int | None
    contact_id: str
    started_at: datetime
    last_at: datetime
    channels: list[str]
    interactions: int
    channel_switches: int
    #: (occurred_at, order, channel) of its interactions, for the previous channel.
    members: list[tuple[datetime, int, str]] = field(default_factory=list)
    new: bool = False
    touched: bool = False


def contact_keys(connector: str, mapped: MappedRecord) -> list[Key]:
    """An interaction's contact keys with ``record:<type>`` namespaced by connector
    (the same spelling :func:`hub.store.records._contact_for_interaction` uses)."""
    return [
        (
            record_kind(connector, kind.removeprefix("record:"))
            if kind.startswith("record:")
            else kind,
            value,
        )
        for kind, value in mapped.contact_keys
    ]


def _split_fields(
    mapped: MappedRecord, updated_at: datetime | None
) -> tuple[datetime, dict[str, Any], dict[str, Any]]:
    fields = dict(mapped.fields)
    occurred = parse_datetime(fields.pop("occurred_at", None)) or updated_at or utcnow()
    data = {k.removeprefix("data."): v for k, v in fields.items() if k.startswith("data.")}
    columns = {k: v for k, v in fields.items() if not k.startswith("data.")}
    return occurred, data, columns


class InteractionBatch:
    """New interactions of one batch: resolve, assign journeys, insert."""

    def __init__(self, session: Session, rules: IdentityRules, window: timedelta) -> None:
        self.session, self.rules, self.window = session, rules, window

    def existing_refs(self, items: Sequence[NewInteraction]) -> set[tuple[str, str]]:
        """(connector, source_ref) of the items already in the store."""
        by_connector: dict[str, list[str]] = {}
        for item in items:
            by_connector.setdefault(item.connector, []).append(item.source_ref)
        found: set[tuple[str, str]] = set()
        for connector, refs in by_connector.items():
            rows = self.session.execute(
                select(Interaction.source_ref).where(
                    Interaction.connector == connector,
                    among(self.session, Interaction.source_ref, refs),
                )
            )
            found.update((connector, ref) for (ref,) in rows)
        return found

    def write(self, items: Sequence[NewInteraction]) -> list[Written]:
        """Insert ``items`` (new, fitting, distinct), in order; one Written per item."""
        if not items:
            return []
        self.session.flush()
        keys = [self.rules.usable(contact_keys(i.connector, i.mapped)) for i in items]
        all_keys = list(dict.fromkeys(k for ks in keys for k in ks))
        markers = [(UNRESOLVED_PREFIX + kind, value) for kind, value in all_keys]
        index = _KeyIndex.load(self.session, [*all_keys, *markers], lock=all_keys)
        limited = {kind for kind, _ in all_keys if self.rules.limit(kind) is not None}
        if limited:
            holders = {c for key in all_keys for c in index.live.get(key, ())}
            index.held = held_values(self.session, holders, limited)
        new_contacts: list[str] = []
        new_identifiers: list[dict[str, Any]] = []
        owners: list[str] = []
        for item, usable in zip(items, keys, strict=True):
            contact_id, created, extra = index.resolve(usable, self.rules)
            if created:
                new_contacts.append(contact_id)
            for kind, value in self.rules.usable([*usable, *extra]):
                if index.attach((kind, value), contact_id, limited=kind in limited):
                    new_identifiers.append(
                        {
                            "kind": kind,
                            "value": value,
                            "contact_id": contact_id,
                            "source_connector": item.connector,
                        }
                    )
            owners.append(contact_id)
        now = utcnow()
        if new_contacts:
            insert_rows(
                self.session,
                _table(Contact),
                [
                    {"id": c, "attributes": {}, "lineage": {}, "created_at": now, "updated_at": now}
                    for c in new_contacts
                ],
            )
        if new_identifiers:
            insert_rows(
                self.session,
                _table(Identifier),
                [{**row, "created_at": now} for row in new_identifiers],
            )
        written = self._insert(items, owners, now)
        # The rows above bypassed the ORM: drop whatever the session holds of them.
        self.session.expire_all()
        return written

    def _insert(
        self, items: Sequence[NewInteraction], owners: list[str], now: datetime
    ) -> list[Written]:
        parsed = [_split_fields(i.mapped, i.updated_at) for i in items]
        journeys = _Journeys.load(self.session, owners, [p[0] for p in parsed], self.window)
        rows: list[dict[str, Any]] = []
        assigned: list[_Journey] = []
        for order, (item, owner, (occurred, data, columns)) in enumerate(
            zip(items, owners, parsed, strict=True)
        ):
            channel = columns.get("channel", "crm-activity")
            journey, switch = journeys.assign(owner, occurred, channel, order)
            assigned.append(journey)
            rows.append(
                {
                    "contact_id": owner,
                    "connector": item.connector,
                    "source_ref": item.source_ref,
                    "channel": channel,
                    "direction": columns.get("direction", "inbound"),
                    "occurred_at": occurred,
                    "status": columns.get("status"),
                    "summary": columns.get("summary"),
                    "agent": columns.get("agent"),
                    "data": data,
                    "source_updated_at": item.updated_at,
                    "channel_switch": switch,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        journeys.write(self.session)
        for row, journey in zip(rows, assigned, strict=True):
            row["journey_id"] = journey.id
        ids = insert_rows(self.session, _table(Interaction), rows, returning_ids=True)
        return [
            Written(id=i, contact_id=row["contact_id"], channel=row["channel"])
            for i, row in zip(ids, rows, strict=True)
        ]


class _KeyIndex:
    """Which live contacts hold each key, kept current as the batch attaches keys."""

    def __init__(self) -> None:
        self.live: dict[Key, set[str]] = {}  # key -> live holders
        self.direct: set[tuple[Key, str]] = set()  # (key, contact) rows that exist
        #: Values of limited kinds each holder holds (hub.identity.limits).
        self.held: dict[str, dict[str, set[str]]] = {}

    @classmethod
    def load(cls, session: Session, keys: list[Key], *, lock: list[Key]) -> _KeyIndex:
        """Every holder of ``keys``, read once ``lock`` (some of ``keys``) is locked
        (:func:`hub.identity.keylocks.read_after_locks`)."""
        index = cls()
        dialect = session.get_bind().dialect.name
        params, shape = identifier_parameters(keys, dialect)
        if not params:  # no keys: nothing to read, nothing to lock
            return index
        statement = identifier_rows_statement(shape, None, dialect)
        for kind, value, contact, merged in read_after_locks(session, lock, statement, params):
            index.live.setdefault((kind, value), set()).add(merged or contact)
            index.direct.add(((kind, value), contact))
        return index

    def resolve(self, usable: list[Key], rules: IdentityRules) -> tuple[str, bool, list[Key]]:
        """(contact, created, extra keys): :func:`hub.identity.resolve.resolve_contact`
        with ``reuse_unresolved``, against this index."""
        limited = [(k, v) for k, v in usable if rules.limit(k) is not None]
        conflicted: set[str] = set()
        if limited:
            every = {c for key in usable for c in self.live.get(key, ())}
            conflicted = {c for c in every if over_limit(rules, self.held.get(c, {}), limited)}
        ambiguous: list[Key] = []
        for key in sorted(usable, key=lambda kv: rules.rank(kv[0])):
            holders = self.live.get(key, set()) - conflicted
            if len(holders) == 1:
                return next(iter(holders)), False, []
            if len(holders) > 1:
                ambiguous.append(key)
        extra: list[Key] = []
        if ambiguous:
            marker = (UNRESOLVED_PREFIX + ambiguous[0][0], ambiguous[0][1])
            stub = sorted(self.live.get(marker, ()))
            if stub:
                return stub[0], False, []
            extra.append(marker)
        return new_contact_id(), True, extra

    def attach(self, key: Key, contact_id: str, *, limited: bool) -> bool:
        """Record that ``contact_id`` holds ``key``; False when it already did."""
        if (key, contact_id) in self.direct:
            return False
        self.direct.add((key, contact_id))
        self.live.setdefault(key, set()).add(contact_id)
        if limited:
            self.held.setdefault(contact_id, {}).setdefault(key[0], set()).add(key[1])
        return True


class _Journeys:
    """The journeys the batch's interactions may join, assigned in memory."""

    def __init__(self, window: timedelta) -> None:
        self.window = window
        self.by_contact: dict[str, list[_Journey]] = {}

    @classmethod
    def load(
        cls, session: Session, owners: list[str], times: list[datetime], window: timedelta
    ) -> _Journeys:
        journeys = cls(window)
        contacts = list(dict.fromkeys(owners))
        # Columns, not entities: the batch writes journeys with executemany, so no ORM
        # object of them may linger in the session with stale counters.
        rows = session.execute(
            select(
                Journey.id,
                Journey.contact_id,
                Journey.started_at,
                Journey.last_at,
                Journey.channels,
                Journey.interactions,
                Journey.channel_switches,
            ).where(
                among(session, Journey.contact_id, contacts),
                Journey.last_at >= min(times) - window,
                Journey.started_at <= max(times) + window,
            )
        )
        loaded: dict[int, _Journey] = {}
        for row in rows:
            journey = _Journey(
                row.id,
                row.contact_id,
                row.started_at,
                row.last_at,
                list(row.channels),
                row.interactions,
                row.channel_switches,
            )
            loaded[row.id] = journey
            journeys.by_contact.setdefault(row.contact_id, []).append(journey)
        if loaded:
            members = session.execute(
                select(
                    Interaction.journey_id,
                    Interaction.occurred_at,
                    Interaction.id,
                    Interaction.channel,
                ).where(among(session, Interaction.journey_id, loaded))
            )
            for journey_id, occurred, row_id, channel in members:
                assert journey_id is not None  # selected by journey_id IN (...)
                loaded[journey_id].members.append((occurred, -1_000_000_000 + row_id, channel))
        return journeys

    def assign(
        self, contact_id: str, at: datetime, channel: str, order: int
    ) -> tuple[_Journey, bool]:
        """The journey ``at`` joins (:func:`hub.store.journeys.assign_journey`), and
        whether the interaction switched channel."""
        fitting = [
            j
            for j in self.by_contact.get(contact_id, [])
            if j.last_at >= at - self.window and j.started_at <= at + self.window
        ]
        if fitting:
            journey = max(fitting, key=lambda j: j.last_at)
        else:
            journey = _Journey(None, contact_id, at, at, [], 0, 0, new=True)
            self.by_contact.setdefault(contact_id, []).append(journey)
        earlier = [m for m in journey.members if m[0] <= at]
        previous = max(earlier)[2] if earlier else None
        switch = previous is not None and previous != channel
        journey.members.append((at, order, channel))
        journey.started_at = min(journey.started_at, at)
        journey.last_at = max(journey.last_at, at)
        journey.interactions += 1
        journey.channel_switches += int(switch)
        if channel not in journey.channels:
            journey.channels = [*journey.channels, channel]
        journey.touched = True
        return journey, switch

    def write(self, session: Session) -> None:
        """Insert the new journeys (their ids land on them) and update the others."""
        every = [j for js in self.by_contact.values() for j in js if j.touched]
        new = [j for j in every if j.new]
        if new:
            rows = [_journey_row(j) for j in new]
            ids = insert_rows(session, _table(Journey), rows, returning_ids=True)
            for journey, journey_id in zip(new, ids, strict=True):
                journey.id = journey_id
        old = [j for j in every if not j.new]
        if old:
            session.execute(update(Journey), [{"id": j.id, **_journey_row(j)} for j in old])


def _table(model: type[Any]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _journey_row(journey: _Journey) -> dict[str, Any]:
    return {
        "contact_id": journey.contact_id,
        "started_at": journey.started_at,
        "last_at": journey.last_at,
        "channels": journey.channels,
        "interactions": journey.interactions,
        "channel_switches": journey.channel_switches,
    }
