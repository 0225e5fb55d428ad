"""Write a page of contact source records with a handful of statements.

Backfills and pull streams hand the hub pages of hundreds of records; going through
the per-record ORM path costs a dozen round trips each. This path reads everything
it needs for the page in a few queries, resolves identities in memory (including
records of the same page that share an identifier), and writes with executemany
(SQLite) or one statement for the whole page (PostgreSQL, :func:`_write_pg`).
Its result is the same as :func:`hub.store.records.upsert_contact_record` applied
record by record, in order (a test holds the two paths to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Engine,
    String,
    Table,
    TextClause,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.orm import Session

from hub.identity.automerge import merge_targets
from hub.identity.candidate_queue import REQUEUE, enqueue, queue_rows
from hub.identity.resolve import (
    crowded,
    identifier_parameters,
    identifier_rows,
    identifier_rows_statement,
    lock_identifiers,
)
from hub.identity.rules import (
    DEFAULT_RULES,
    IdentityRules,
    name_guard_refuses,
    names_of,
    over_limit,
)
from hub.mapping import MappedRecord
from hub.store.coltypes import utcnow
from hub.store.models import (
    CandidateQueueEntry,
    Contact,
    Identifier,
    IdentityLink,
    SourceRecord,
    new_contact_id,
)
from hub.store.records import snapshot_of, upsert_contact_record
from hub.store.rowsets import among_param, insert_sql, rows_document, update_sql
from hub.store.sqlite_rows import insert_many, update_many
from hub.store.survivorship import CONTACT_COLUMNS, apply_fields


@dataclass(frozen=True)
class PageItem:
    object_type: str
    external_id: str
    mapped: MappedRecord
    updated_at: datetime | None


@dataclass
class _ContactState:
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
class _RecordState:
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
def _pg_reads(types: tuple[bool, ...], kinds: tuple[bool, ...], cap: int) -> Any:
    """PostgreSQL: the page's source records (``part`` 'r', one select per object
    type) and the identifier rows of its keys (``part`` 'i', at most ``cap`` per key,
    as :func:`hub.identity.resolve.identifier_rows`) as one UNION ALL."""
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
    parameters; one id is sent as one value (see :func:`_among`)."""
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


def _keys(connector: str, item: PageItem, rules: IdentityRules) -> list[tuple[str, str]]:
    record_key = (f"record:{connector}:{item.object_type}", item.external_id)
    return rules.usable([record_key, *item.mapped.identifiers])


class _Page:
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
        self.keys = {id(i): _keys(connector, i, rules) for i in self.items}
        all_keys = list(dict.fromkeys(k for ks in self.keys.values() for k in ks))
        lock_identifiers(session, all_keys)
        if session.get_bind().dialect.name == "postgresql":
            self.records, self.triples = self._load_together(all_keys)
        else:
            self.records = self._load_records()
            self.triples = self._load_identifiers(all_keys)
        self.by_key: dict[tuple[str, str], set[str]] = {}
        for kind, value, contact in self.triples:
            self.by_key.setdefault((kind, value), set()).add(contact)
        self.survivor: dict[str, str] = {}
        self.contacts: dict[str, _ContactState] = {}

    def _load_records(self) -> dict[tuple[str, str], _RecordState]:
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
            (r.object_type, r.external_id): _RecordState(
                r.id, r.contact_id, r.source_updated_at, r.snapshot, r.deleted_at
            )
            for r in rows
        }

    def _load_together(
        self, keys: list[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], _RecordState], set[tuple[str, str, str]]]:
        """PostgreSQL: :meth:`_load_records` and :meth:`_load_identifiers` in one
        statement, one round trip (after the locks: a statement reads what was
        committed when it began)."""
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
        statement = _pg_reads(tuple(types), kinds, self.rules.max_contacts_per_value + 1)
        records: dict[tuple[str, str], _RecordState] = {}
        triples: set[tuple[str, str, str]] = set()
        for r in self.session.execute(statement, params):
            if r.part == "r":
                records[(r.object_type, r.external_id)] = _RecordState(
                    r.id, r.contact_id, r.source_updated_at, r.snapshot, r.deleted_at
                )
            else:
                triples.add((r.kind, r.value, r.contact_id))
        return records, triples

    def _load_identifiers(self, keys: list[tuple[str, str]]) -> set[tuple[str, str, str]]:
        cap = self.rules.max_contacts_per_value + 1  # more holders: crowded, see _resolve
        rows = identifier_rows(self.session, keys, cap=cap)
        return {(k, v, contact) for k, v, contact, _ in rows}

    def load_contacts(self, ids: set[str]) -> None:
        """Load contacts (following merges to their survivors) and their limited keys."""
        pending = ids - self.contacts.keys() - self.survivor.keys()
        dialect = self.session.get_bind().dialect.name
        patterns = tuple(self.rules.limited_prefixes())
        together = dialect == "postgresql" and bool(patterns)
        while pending:
            rows = self.session.execute(*_contacts_query(dialect, pending, patterns, together))
            pending = set()
            for contact in rows:
                if contact.merged_into_id and contact.merged_into_id != contact.id:
                    self.survivor[contact.id] = contact.merged_into_id
                    if contact.merged_into_id not in self.contacts:
                        pending.add(contact.merged_into_id)
                    continue
                mapping = contact._mapping
                state = _ContactState(
                    columns={c: mapping[c] for c in CONTACT_COLUMNS},
                    attributes=dict(contact.attributes or {}),
                    lineage=dict(contact.lineage or {}),
                    new=False,
                )
                state.loaded = (dict(state.columns), dict(state.attributes), dict(state.lineage))
                self.contacts[contact.id] = state
                if together:
                    for kind, value in mapping["held"] or ():
                        if self.rules.limit(kind) is not None:
                            state.held.setdefault(kind, set()).add(value)
                    state.held_loaded = True
        loaded = [c for c, s in self.contacts.items() if not s.new and not s.held_loaded]
        if loaded and patterns:
            for cid, kind, value in self.session.execute(
                _held_statement(patterns, dialect), {"ids": loaded}
            ):
                if self.rules.limit(kind) is not None:
                    self.contacts[cid].held.setdefault(kind, set()).add(value)
        for cid in loaded:
            self.contacts[cid].held_loaded = True

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


def _resolve(
    page: _Page, keys: list[tuple[str, str]], fields: dict[str, Any]
) -> tuple[str, tuple[str, str] | None, list[tuple[str, str]]]:
    """Same rules as hub.identity.resolve_contact, over the page's in-memory view.

    Returns the contact, the key it matched on (None: new) and the ambiguous keys."""
    rules = page.rules
    named = names_of(fields)
    limited = [(k, v) for k, v in keys if rules.limit(k) is not None]
    ambiguous: list[tuple[str, str]] = []
    for key in sorted(keys, key=lambda kv: rules.rank(kv[0])):
        holders = page.holders(key)
        if crowded(holders, rules):
            ambiguous.append(key)
            continue
        candidates = [
            c
            for c in holders
            if c in page.contacts and not over_limit(rules, page.contacts[c].held, limited)
        ]
        if len(candidates) == 1:
            if name_guard_refuses(rules, key[0], named, page.contacts[candidates[0]].columns):
                continue
            return candidates[0], key, ambiguous
        if len(candidates) > 1:
            ambiguous.append(key)
    contact_id = new_contact_id()
    page.contacts[contact_id] = _ContactState(
        columns={c: None for c in CONTACT_COLUMNS}, attributes={}, lineage={}, new=True
    )
    return contact_id, None, ambiguous


def apply_contact_page(
    session: Session,
    *,
    connector: str,
    items: Sequence[PageItem],
    rules: IdentityRules = DEFAULT_RULES,
) -> int:
    """Upsert a page of contact records; returns how many changed the store.

    A record whose keys name two existing contacts (a deterministic merge, see
    hub/identity/automerge.py) is rare: the page is written up to it, that record goes
    through the per-record path (which merges), and the rest of the page follows."""
    changed, rest = 0, list(items)
    while rest:
        done, stop = _apply_part(session, connector, rest, rules)
        changed += done
        if stop is None:
            break
        item = rest[stop]
        session.flush()
        session.expire_all()  # Core writes above bypassed the ORM's identity map
        _, merged = upsert_contact_record(
            session,
            connector=connector,
            object_type=item.object_type,
            external_id=item.external_id,
            mapped=item.mapped,
            updated_at=item.updated_at,
            rules=rules,
        )
        session.flush()
        session.expire_all()
        changed += merged
        rest = rest[stop + 1 :]
    return changed


def _needs_merge(page: _Page, contact_id: str, keys: list[tuple[str, str]], item: PageItem) -> bool:
    """Whether the record's keys name a second contact to merge (the per-record path
    does merges; see :func:`apply_contact_page`)."""
    rules = page.rules
    if not rules.auto_merge.deterministic:
        return False
    strong = [k for k in keys if rules.auto_merge.strong(k[0])]
    if not any(set(page.holders(k)) - {contact_id} for k in strong):
        return False

    def fields_of(cid: str) -> dict[str, Any]:
        state = page.contacts.get(cid)
        return dict(state.columns) if state is not None else {}

    def held_of(cid: str) -> dict[str, set[str]]:
        state = page.contacts.get(cid)
        return state.held if state is not None else {}

    return bool(
        merge_targets(
            rules,
            contact_id,
            strong,
            item.mapped.fields,
            holders=page.holders,
            fields_of=fields_of,
            held_of=held_of,
        )
    )


def _apply_part(
    session: Session, connector: str, items: Sequence[PageItem], rules: IdentityRules
) -> tuple[int, int | None]:
    """Apply ``items`` up to the first that needs a merge; returns (changed, its
    index or None)."""
    page = _Page(session, connector, items, rules)
    page.load_contacts(
        {r.contact_id for r in page.records.values()} | {c for _, _, c in page.triples}
    )
    now, changed = utcnow(), 0
    new_records: list[dict[str, Any]] = []
    updated_records: list[dict[str, Any]] = []
    new_identifiers: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    touched: list[str] = []
    stop: int | None = None
    for position, item in enumerate(page.items):
        keys = page.keys[id(item)]
        state_key = (item.object_type, item.external_id)
        existing = page.records.get(state_key)
        if (
            existing is not None
            and existing.source_updated_at
            and item.updated_at
            and item.updated_at < existing.source_updated_at
        ):
            continue  # a stale version: keep the newer one
        snapshot = snapshot_of(item.mapped)
        if existing is None:
            contact_id, matched, ambiguous = _resolve(page, keys, item.mapped.fields)
            if matched is not None and _needs_merge(page, contact_id, keys, item):
                stop = position
                break
            links.append(_link(connector, item, contact_id, matched, ambiguous, now))
            row = {
                "connector": connector,
                "object_type": item.object_type,
                "external_id": item.external_id,
                "contact_id": contact_id,
                "source_updated_at": item.updated_at,
                "snapshot": snapshot,
                "deleted_at": None,
                "created_at": now,
                "updated_at": now,
            }
            new_records.append(row)
            page.records[state_key] = _RecordState(
                None, contact_id, item.updated_at, snapshot, None, row
            )
            record_changed = True
        else:
            contact_id = page.live(existing.contact_id)
            if _needs_merge(page, contact_id, keys, item):
                stop = position
                break
            record_changed = existing.snapshot != snapshot or existing.deleted_at is not None
            existing.snapshot, existing.source_updated_at = snapshot, item.updated_at
            existing.deleted_at = None
            if existing.row is not None:  # inserted earlier in this page: amend the insert
                existing.row.update(snapshot=snapshot, source_updated_at=item.updated_at)
            else:
                updated_records.append(
                    {
                        "b_id": existing.id,
                        "snapshot": snapshot,
                        "source_updated_at": item.updated_at,
                        "updated_at": now,
                    }
                )
        state = page.contacts[contact_id]
        origin = {
            "connector": connector,
            "object_type": item.object_type,
            "external_id": item.external_id,
            "at": (item.updated_at or now).isoformat(),
        }
        if apply_fields(state.columns, state.attributes, state.lineage, item.mapped.fields, origin):
            state.changed = record_changed = True
        new_identifiers += _index_keys(page, contact_id, keys, now)
        touched.append(contact_id)
        changed += record_changed
    queued = touched if rules.candidates.enabled else []  # scored later, off the write path
    _write(session, page, now, new_records, updated_records, new_identifiers, links, queued)
    return changed, stop


def _index_keys(
    page: _Page, contact_id: str, keys: list[tuple[str, str]], now: datetime
) -> list[dict[str, Any]]:
    """Index the record's keys under its contact; returns the identifier rows to insert."""
    state, rows = page.contacts[contact_id], []
    for kind, value in keys:
        if page.index(kind, value, contact_id):
            rows.append(
                {
                    "kind": kind,
                    "value": value,
                    "contact_id": contact_id,
                    "source_connector": page.connector,
                    "created_at": now,
                }
            )
        if page.rules.limit(kind) is not None:
            state.held.setdefault(kind, set()).add(value)
    return rows


def _link(
    connector: str,
    item: PageItem,
    contact_id: str,
    matched: tuple[str, str] | None,
    ambiguous: list[tuple[str, str]],
    now: datetime,
) -> dict[str, Any]:
    return {
        "connector": connector,
        "object_type": item.object_type,
        "external_id": item.external_id,
        "contact_id": contact_id,
        "rule": "matched" if matched else "new",
        "kind": matched[0] if matched else None,
        "value": matched[1] if matched else None,
        "ambiguous": [list(k) for k in ambiguous],
        "linked_at": now,
    }


def _write(
    session: Session,
    page: _Page,
    now: datetime,
    new_records: list[dict[str, Any]],
    updated_records: list[dict[str, Any]],
    new_identifiers: list[dict[str, Any]],
    links: list[dict[str, Any]],
    queued: list[str],
) -> None:
    fresh = [
        {
            "id": cid,
            **s.columns,
            "attributes": s.attributes,
            "lineage": s.lineage,
            "merged_into_id": None,
            "created_at": now,
            "updated_at": now,
        }
        for cid, s in page.contacts.items()
        if s.new
    ]
    touched = [
        {
            "b_id": cid,
            **s.columns,
            "attributes": s.attributes,
            "lineage": s.lineage,
            "updated_at": now,
        }
        for cid, s in page.contacts.items()
        if not s.new and s.dirty()
    ]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        _write_pg(
            session,
            new_contacts=fresh,
            contacts=touched,
            new_records=new_records,
            records=updated_records,
            new_identifiers=new_identifiers,
            links=links,
            queue=queue_rows(queued),
        )
        return
    # The driver's executemany, one statement per kind of row (hub/store/sqlite_rows.py:
    # SQLAlchemy's Core executemany cost more per row than SQLite does).
    if fresh:
        _insert(session, "new_contacts", fresh)
    if touched:
        update_many(session, _UPDATES["contacts"][0], touched, key="b_id")
    if new_records:
        _insert(session, "new_records", new_records)
    if updated_records:
        rows = [{**r, "deleted_at": None} for r in updated_records]
        update_many(session, _UPDATES["records"][0], rows, key="b_id")
    if new_identifiers:
        _insert(session, "new_identifiers", new_identifiers)
    if links:
        _insert(session, "links", links)
    enqueue(session, queued)


def _write_pg(session: Session, **parts: list[dict[str, Any]]) -> None:
    """PostgreSQL: the page's writes as one statement, one round trip (each part a JSON
    document, hub/store/rowsets.py; the parts as data-modifying ``WITH`` queries, in
    the order of the SQLite path). Foreign keys are checked at the end of the
    statement, so a record may name a contact inserted beside it."""
    shape: list[tuple[str, tuple[str, ...]]] = []
    params: dict[str, str] = {}
    for name, rows in parts.items():
        if not rows:
            continue
        table = (_INSERTS.get(name) or _UPDATES.get(name) or _UPSERTS[name])[0]
        if name in _UPDATES:  # one row per id, the last as with executemany
            rows = list({r["b_id"]: r for r in rows}.values())
            rows = [{"id": r["b_id"], **{k: v for k, v in r.items() if k != "b_id"}} for r in rows]
            if name == "records":
                rows = [{**r, "deleted_at": None} for r in rows]
        columns, params[name] = rows_document(table, rows, defaults=name not in _UPDATES)
        shape.append((name, columns))
    if shape:
        session.execute(_pg_write_statement(tuple(shape)), params)


@lru_cache(maxsize=128)
def _pg_write_statement(shape: tuple[tuple[str, tuple[str, ...]], ...]) -> TextClause:
    """The statement :func:`_write_pg` sends for these parts and columns, built once."""
    parts = []
    for name, columns in shape:
        if name in _UPDATES:
            parts.append(update_sql(_UPDATES[name][0], columns, "id", name))
        elif name in _UPSERTS:
            table, action = _UPSERTS[name]
            parts.append(f"{insert_sql(table, columns, (), name)} {action}")
        else:
            table, conflict = _INSERTS[name]
            parts.append(insert_sql(table, columns, conflict, name))
    first = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(parts[:-1]))
    return text(f"WITH {first} {parts[-1]}" if first else parts[-1])


#: The page's inserts: table, and the unique columns that decide a conflict.
_INSERTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "new_contacts": (Contact.__table__, ()),
    "new_records": (SourceRecord.__table__, ()),
    # The page read at most K + 1 holders of a crowded value (see _Page), so a
    # contact may already hold a key the page believes new: the unique key decides.
    "new_identifiers": (Identifier.__table__, ("kind", "value", "contact_id")),
    "links": (IdentityLink.__table__, ()),
}
#: Upserts on PostgreSQL: table, and the ON CONFLICT clause. The candidate queue rows
#: travel with the page's writes (SQLite: :func:`hub.identity.candidate_queue.enqueue`
#: after them), one round trip fewer per page and per single record.
_UPSERTS: dict[str, tuple[Any, str]] = {"queue": (CandidateQueueEntry.__table__, REQUEUE)}
#: The page's updates on PostgreSQL (see :func:`_write_pg`): table, and key.
_UPDATES: dict[str, tuple[Any, str]] = {
    "contacts": (Contact.__table__, "id"),
    "records": (SourceRecord.__table__, "id"),
}


def _insert(session: Session, name: str, rows: list[dict[str, Any]]) -> None:
    """Insert a page's rows on SQLite (PostgreSQL writes the page in one statement,
    :func:`_write_pg`)."""
    table, conflict = _INSERTS[name]
    insert_many(session, table, rows, skip_conflicts_on=conflict)


#: Tables the page path reads by key: without statistics PostgreSQL's planner filters
#: ``external_id = ANY(...)`` / ``value = ANY(...)`` over every row of a kind (or scans
#: the identifiers), so each page read more than the last.
READ_TABLES = ("contacts", "identifiers", "source_records")


def refresh_statistics(engine: Engine, *, fraction: float = 0.2, floor: int = 1_000) -> list[str]:
    """PostgreSQL: ANALYZE the tables the page path reads once more than ``fraction`` of
    their rows (plus ``floor``) changed since their last analyze; returns those analyzed.

    A backfill into a fresh store grows the tables faster than autovacuum (if it runs
    at all) re-reads them, and with stale statistics the planner chose plans that grow
    with the table: a page at 100k records took 74 ms to read its source records and
    151 ms for its identifiers instead of 3.5 ms and 31 ms. Cheap to call after every
    page: one catalogue read, and an ANALYZE samples a bounded number of rows. SQLite
    plans these reads by index without statistics: nothing to do there.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        stale = [
            name
            for name, live, changed in conn.execute(
                text(
                    "SELECT relname, n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables"
                    " WHERE schemaname = current_schema() AND relname = ANY(:names)"
                ),
                {"names": list(READ_TABLES)},
            )
            if changed > floor + fraction * live
        ]
        for name in sorted(stale):  # names from READ_TABLES, never from input
            conn.execute(text(f"ANALYZE {name}"))
        conn.commit()
    return sorted(stale)
