"""The page path's view of the store (hub/store/bulk.py): what a page of contact
records touches, read in a few statements after its identifiers are locked.

:class:`Page` loads the page's source records and every identifier row of its keys
(at most K + 1 holders per value), then the contacts those name, following merges to
their survivors, each with the values of the limited kinds it holds; resolution then
works on this in-memory view. The statements are built once per dialect and shape:
building a SELECT per page (and per single record) cost more than running it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    String,
    Table,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from hub.identity.keylocks import read_after_locks
from hub.identity.resolve import (
    identifier_parameters,
    identifier_rows,
    identifier_rows_statement,
)
from hub.identity.rules import IdentityRules
from hub.mapping import MappedRecord
from hub.store.coltypes import as_utc
from hub.store.models import Contact, Identifier, SourceRecord
from hub.store.rowsets import among_param
from hub.store.survivorship import CONTACT_COLUMNS


@dataclass(frozen=True)
class PageItem:
    object_type: str
    external_id: str
    mapped: MappedRecord
    updated_at: datetime | None


@dataclass
class ContactState:
    columns: dict[str, Any]
    attributes: dict[str, Any]
    lineage: dict[str, Any]
    new: bool
    changed: bool = False
    #: Values held of each limited kind (hub.identity.limits), for the limit check.
    held: dict[str, set[str]] = field(default_factory=dict)
    held_loaded: bool = False
    loaded: tuple[Any, ...] = ()

    def dirty(self) -> bool:
        """Anything to write back, lineage refreshes included."""
        return (self.columns, self.attributes, self.lineage) != self.loaded


@dataclass
class RecordState:
    """A source record as the page has left it so far (``row`` when inserted here)."""

    id: int | None
    contact_id: str
    source_updated_at: datetime | None
    snapshot: dict[str, Any]
    deleted_at: datetime | None
    row: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Statements:
    records: Any
    contacts: Any


@lru_cache(maxsize=4)
def _statements(dialect: str, alone: bool = False) -> _Statements:
    """The page's reads, built once per dialect: building a SELECT per page (and per
    single record) cost more than running it. Core columns, not ORM entities: a page
    reads hundreds of rows and needs no objects."""
    records: Table = SourceRecord.__table__  # type: ignore[assignment]
    contacts: Table = Contact.__table__  # type: ignore[assignment]
    record_columns = [
        *("id", "object_type", "external_id", "contact_id"),
        *("source_updated_at", "snapshot", "deleted_at"),
    ]
    wanted = [contacts.c.id, contacts.c.merged_into_id, contacts.c.attributes]
    wanted += [contacts.c.lineage, *(contacts.c[c] for c in CONTACT_COLUMNS)]
    return _Statements(
        records=select(*(records.c[c] for c in record_columns)).where(
            records.c.connector == bindparam("connector"),
            records.c.object_type == bindparam("type"),
            among_param(records.c.external_id, "ids", dialect, alone=alone),
        ),
        contacts=select(*wanted).where(among_param(contacts.c.id, "ids", dialect, alone=alone)),
    )


@lru_cache(maxsize=8)
def _held_statement(patterns: tuple[str, ...], dialect: str) -> Any:
    """Values of the limited kinds (``patterns``: SQL LIKE) the given contacts hold."""
    table: Table = Identifier.__table__  # type: ignore[assignment]
    return select(table.c.contact_id, table.c.kind, table.c.value).where(
        among_param(table.c.contact_id, "ids", dialect),
        or_(*(table.c.kind.like(p) for p in patterns)),
    )


@lru_cache(maxsize=64)
def _pg_reads(
    types: tuple[bool, ...], kinds: tuple[bool, ...], cap: int, patterns: tuple[str, ...]
) -> Any:
    """PostgreSQL: the page's source records (``part`` 'r', one select per object
    type), the identifier rows of its keys (``part`` 'i', at most ``cap`` per key, as
    :func:`hub.identity.resolve.identifier_rows`) and the contacts those name
    (``part`` 'c', see :func:`_named_contacts`) as one statement: one round trip where
    the contacts took a second."""
    rows = _pg_rows(types, kinds, cap).cte("page_rows")
    return union_all(select(rows), _named_contacts(rows, patterns))


def _named_contacts(rows: Any, patterns: tuple[str, ...]) -> Any:
    """The contacts ``rows`` name, in the shape of :func:`_pg_rows`: the contact in
    ``snapshot`` as a JSON object of :data:`_CONTACT_FIELDS` and ``held`` (what
    :func:`_contacts_and_held` reads; NULL without limited kinds)."""
    records: Table = SourceRecord.__table__  # type: ignore[assignment]
    contacts: Table = Contact.__table__  # type: ignore[assignment]
    table: Table = Identifier.__table__  # type: ignore[assignment]
    held: Any = null()
    if patterns:
        held = (
            select(func.json_agg(func.json_build_array(table.c.kind, table.c.value)))
            .where(
                table.c.contact_id == contacts.c.id,
                # named: anonymous ones would be called kind_<n>, like the reads' kinds
                or_(
                    *(table.c.kind.like(bindparam(f"held_{i}", p)) for i, p in enumerate(patterns))
                ),
            )
            .scalar_subquery()
        )
    fields: list[Any] = []
    for name in _CONTACT_FIELDS:
        fields += [literal_column(f"'{name}'"), contacts.c[name]]
    text_null = cast(null(), String)
    time_null = cast(null(), records.c.deleted_at.type)
    document = func.jsonb_build_object(*fields, literal_column("'held'"), held)
    return select(
        literal_column("'c'"),
        cast(null(), records.c.id.type),
        text_null,
        text_null,
        contacts.c.id,
        time_null,
        cast(document, records.c.snapshot.type),
        time_null,
        text_null,
        text_null,
    ).where(contacts.c.id.in_(select(rows.c.contact_id).where(rows.c.contact_id.is_not(None))))


#: The contact columns the page reads (:meth:`Page.load_contacts`).
_CONTACT_FIELDS = ("merged_into_id", "attributes", "lineage", *CONTACT_COLUMNS)


def _pg_rows(types: tuple[bool, ...], kinds: tuple[bool, ...], cap: int) -> Any:
    """The records and identifier rows of :func:`_pg_reads`, as one UNION ALL."""
    records: Table = SourceRecord.__table__  # type: ignore[assignment]
    text_null = cast(null(), String)
    parts: list[Any] = [
        select(
            literal_column("'r'").label("part"),
            *(records.c[c] for c in ("id", "object_type", "external_id", "contact_id")),
            *(records.c[c] for c in ("source_updated_at", "snapshot", "deleted_at")),
            text_null.label("kind"),
            text_null.label("value"),
        ).where(
            records.c.connector == bindparam("connector"),
            records.c.object_type == bindparam(f"type_{i}"),
            among_param(records.c.external_id, f"ids_{i}", "postgresql", alone=alone),
        )
        for i, alone in enumerate(types)
    ]
    if kinds:
        held = identifier_rows_statement(kinds, cap, "postgresql").subquery()
        time_null = cast(null(), records.c.deleted_at.type)
        parts.append(
            select(
                literal_column("'i'"),
                cast(null(), records.c.id.type),
                text_null,
                text_null,
                held.c.contact_id,
                time_null,
                cast(null(), records.c.snapshot.type),
                time_null,
                held.c.kind,
                held.c.value,
            )
        )
    return parts[0] if len(parts) == 1 else union_all(*parts)


def _contacts_query(
    dialect: str, ids: set[str], patterns: tuple[str, ...], with_held: bool
) -> tuple[Any, dict[str, Any]]:
    """The read of contacts ``ids`` (``with_held``: :func:`_contacts_and_held`) and its
    parameters; one id is sent as one value (see :func:`hub.store.rowsets.among_param`)."""
    alone = dialect == "postgresql" and len(ids) == 1
    params = {"ids": next(iter(ids)) if alone else list(ids)}
    if with_held:
        return _contacts_and_held(patterns, alone), params
    return _statements(dialect, alone).contacts, params


@lru_cache(maxsize=16)
def _contacts_and_held(patterns: tuple[str, ...], alone: bool) -> Any:
    """PostgreSQL: the contacts, each with the values of the limited kinds it holds
    (``held``: a JSON array of [kind, value], NULL for none) in one round trip instead
    of two."""
    contacts: Table = Contact.__table__  # type: ignore[assignment]
    table: Table = Identifier.__table__  # type: ignore[assignment]
    held = (
        select(func.json_agg(func.json_build_array(table.c.kind, table.c.value)))
        .where(
            table.c.contact_id == contacts.c.id,
            or_(*(table.c.kind.like(p) for p in patterns)),
        )
        .scalar_subquery()
    )
    return _statements("postgresql", alone).contacts.add_columns(held.label("held"))


def page_keys(connector: str, item: PageItem, rules: IdentityRules) -> list[tuple[str, str]]:
    record_key = (f"record:{connector}:{item.object_type}", item.external_id)
    return rules.usable([record_key, *item.mapped.identifiers])


class Page:
    """The in-memory view of everything the page touches."""

    def __init__(
        self,
        session: Session,
        connector: str,
        items: Sequence[PageItem],
        rules: IdentityRules,
    ) -> None:
        self.session, self.connector, self.rules = session, connector, rules
        self.items = list(items)  # in order: a record may appear twice, like one by one
        self.keys = {id(i): page_keys(connector, i, rules) for i in self.items}
        self.survivor: dict[str, str] = {}
        self.contacts: dict[str, ContactState] = {}
        #: Survivors of merged contacts read with the page, still to load.
        self.unread: set[str] = set()
        all_keys = list(dict.fromkeys(k for ks in self.keys.values() for k in ks))
        if session.get_bind().dialect.name == "postgresql":
            self.records, self.triples = self._lock_and_load(all_keys)
        else:
            self.records = self._load_records()
            self.triples = self._load_identifiers(all_keys)
        self.by_key: dict[tuple[str, str], set[str]] = {}
        for kind, value, contact in self.triples:
            self.by_key.setdefault((kind, value), set()).add(contact)

    def _load_records(self) -> dict[tuple[str, str], RecordState]:
        # Per object type, ``external_id IN (...)`` walks the unique index; a row-value
        # IN list makes SQLite without statistics scan the table.
        by_type: dict[str, list[str]] = {}
        for item in self.items:
            by_type.setdefault(item.object_type, []).append(item.external_id)
        rows: list[Any] = []
        statement = _statements(self.session.get_bind().dialect.name).records
        for object_type, ids in by_type.items():
            rows += self.session.execute(
                statement,
                {"connector": self.connector, "type": object_type, "ids": list(dict.fromkeys(ids))},
            ).all()
        return {
            (r.object_type, r.external_id): RecordState(
                r.id, r.contact_id, r.source_updated_at, r.snapshot, r.deleted_at
            )
            for r in rows
        }

    def _lock_and_load(
        self, keys: list[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], RecordState], set[tuple[str, str, str]]]:
        """PostgreSQL: lock the page's identifiers, then read :meth:`_load_records` and
        :meth:`_load_identifiers` in one statement, the two in one round trip
        (:func:`hub.identity.keylocks.read_after_locks`)."""
        by_type: dict[str, list[str]] = {}
        for item in self.items:
            by_type.setdefault(item.object_type, []).append(item.external_id)
        params, kinds = identifier_parameters(keys, "postgresql")
        params["connector"] = self.connector
        types = []
        for i, (object_type, ids) in enumerate(by_type.items()):
            unique = list(dict.fromkeys(ids))
            params[f"type_{i}"], params[f"ids_{i}"] = object_type, unique
            if len(unique) == 1:
                params[f"ids_{i}"] = unique[0]
            types.append(len(unique) == 1)
        patterns = tuple(self.rules.limited_prefixes())
        cap = self.rules.max_contacts_per_value + 1
        statement = _pg_reads(tuple(types), kinds, cap, patterns)
        rows = read_after_locks(self.session, keys, statement, params)
        records: dict[tuple[str, str], RecordState] = {}
        triples: set[tuple[str, str, str]] = set()
        for part, id_, otype, external, contact, updated, snapshot, deleted, kind, value in rows:
            if part == "r":
                records[(otype, external)] = RecordState(
                    id_, contact, as_utc(updated), snapshot, as_utc(deleted)
                )
            elif part == "i":
                triples.add((kind, value, contact))
            else:
                self._take(contact, snapshot, snapshot["held"], bool(patterns))
        return records, triples

    def _load_identifiers(self, keys: list[tuple[str, str]]) -> set[tuple[str, str, str]]:
        cap = self.rules.max_contacts_per_value + 1  # more holders: crowded, see _resolve
        rows = identifier_rows(self.session, keys, cap=cap)
        return {(k, v, contact) for k, v, contact, _ in rows}

    def load_contacts(self, ids: set[str]) -> None:
        """Load contacts (following merges to their survivors) and their limited keys."""
        pending = (ids | self.unread) - self.contacts.keys() - self.survivor.keys()
        self.unread = set()
        dialect = self.session.get_bind().dialect.name
        patterns = tuple(self.rules.limited_prefixes())
        together = dialect == "postgresql" and bool(patterns)
        while pending:
            rows = self.session.execute(*_contacts_query(dialect, pending, patterns, together))
            pending = set()
            for contact in rows:
                mapping = contact._mapping
                held = mapping["held"] if together else None
                survivor = self._take(contact.id, mapping, held, together)
                if survivor is not None:
                    pending.add(survivor)
        loaded = [c for c, s in self.contacts.items() if not s.new and not s.held_loaded]
        if loaded and patterns:
            for cid, kind, value in self.session.execute(
                _held_statement(patterns, dialect), {"ids": loaded}
            ):
                if self.rules.limit(kind) is not None:
                    self.contacts[cid].held.setdefault(kind, set()).add(value)
        for cid in loaded:
            self.contacts[cid].held_loaded = True

    def _take(self, contact_id: str, row: Any, held: Any, with_held: bool) -> str | None:
        """Keep a contact read from the store (``row``: its :data:`_CONTACT_FIELDS`;
        ``with_held``: ``held`` lists its values of the limited kinds as [kind, value]);
        returns the survivor to read when it was merged and its survivor is unread."""
        merged_into = row["merged_into_id"]
        if merged_into and merged_into != contact_id:
            self.survivor[contact_id] = merged_into
            if merged_into in self.contacts:
                return None
            self.unread.add(merged_into)
            return merged_into
        state = ContactState(
            columns={c: row[c] for c in CONTACT_COLUMNS},
            attributes=dict(row["attributes"] or {}),
            lineage=dict(row["lineage"] or {}),
            new=False,
        )
        state.loaded = (dict(state.columns), dict(state.attributes), dict(state.lineage))
        self.contacts[contact_id] = state
        if with_held:
            for kind, value in held or ():
                if self.rules.limit(kind) is not None:
                    state.held.setdefault(kind, set()).add(value)
            state.held_loaded = True
        return None

    def live(self, contact_id: str) -> str:
        seen = set()
        while contact_id in self.survivor and contact_id not in seen:
            seen.add(contact_id)
            contact_id = self.survivor[contact_id]
        return contact_id

    def holders(self, key: tuple[str, str]) -> list[str]:
        return sorted({self.live(c) for c in self.by_key.get(key, ())})

    def index(self, kind: str, value: str, contact_id: str) -> bool:
        """Record that ``contact_id`` holds the key; False if it already did."""
        if (kind, value, contact_id) in self.triples:
            return False
        self.triples.add((kind, value, contact_id))
        self.by_key.setdefault((kind, value), set()).add(contact_id)
        return True
