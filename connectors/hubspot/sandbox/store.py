"""The sandbox's in-memory CRM: records, unique indexes, associations, change events.

One re-entrant lock guards everything because the Flask dev server is threaded and the
fault API mutates records from the test thread mid-sync. Listeners (the webhook
dispatcher) are called after each change, outside no lock they could deadlock on: they
only enqueue.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import conflict, not_found, validation_error
from .schema import ASSOCIATION_TYPES, OBJECT_TYPES, ObjectType
from .timeutil import Clock, iso_ms, now_ms


@dataclass
class Record:
    """One CRM object. ``props`` holds only non-empty values, all strings, like HubSpot."""

    id: int
    type: str
    props: dict[str, str]
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None
    history: dict[str, list[tuple[str, int, str]]] | None = None


@dataclass(frozen=True)
class ChangeEvent:
    """A record change the webhook dispatcher may turn into a subscription event."""

    kind: str  # creation | propertyChange | deletion | merge
    object_type: str
    object_id: int
    occurred_ms: int
    change_source: str = "API"
    property_name: str | None = None
    property_value: str | None = None
    merge: dict[str, Any] = field(default_factory=dict)
    on_create: bool = False  # a propertyChange fired for a value set at creation


Listener = Callable[[ChangeEvent], None]
AssocMap = dict[int, set[int]]  # to_id -> association type ids


class CRMStore:
    """Thread-safe objects and associations for one HubSpot portal."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.records: dict[str, dict[int, Record]] = {name: {} for name in OBJECT_TYPES}
        self._ids: dict[str, list[int]] = {name: [] for name in OBJECT_TYPES}
        self._next_id = {name: t.id_base for name, t in OBJECT_TYPES.items()}
        self._unique: dict[tuple[str, str], dict[str, int]] = {
            (t.name, p): {} for t in OBJECT_TYPES.values() for p in t.unique_props
        }
        self._merged_into: dict[tuple[str, int], int] = {}
        self._assoc: dict[tuple[str, int], dict[str, AssocMap]] = {}
        self.listeners: list[Listener] = []

    # ---- events -------------------------------------------------------------------------

    def _emit(self, events: list[ChangeEvent]) -> None:
        for event in events:
            for listener in list(self.listeners):
                listener(event)

    # ---- reads --------------------------------------------------------------------------

    def get(self, obj: ObjectType, key: str, id_property: str | None = None,
            archived: bool = False) -> Record | None:
        """Find by id (following merges, like HubSpot) or by a unique property."""
        with self.lock:
            if id_property and id_property != "hs_object_id":
                index = self._unique.get((obj.name, id_property))
                if index is None:
                    raise validation_error(
                        f"{id_property} is not a unique property of {obj.name}")
                found = index.get(key.strip().lower())
                record = self.records[obj.name].get(found) if found is not None else None
            else:
                if not key.isdigit():
                    return None
                oid = int(key)
                oid = self._merged_into.get((obj.name, oid), oid) if not archived else oid
                record = self.records[obj.name].get(oid)
            if record is None or record.archived != archived:
                return None
            return record

    def require(self, obj: ObjectType, key: str, id_property: str | None = None) -> Record:
        record = self.get(obj, key, id_property)
        if record is None:
            raise not_found()
        return record

    def page(self, obj: ObjectType, after: int, limit: int,
             archived: bool) -> tuple[list[Record], int | None]:
        """Records with id >= ``after`` in id order; the cursor is the next id."""
        with self.lock:
            ids = self._ids[obj.name]
            recs = self.records[obj.name]
            out: list[Record] = []
            for i in range(bisect.bisect_left(ids, after), len(ids)):
                record = recs[ids[i]]
                if record.archived != archived:
                    continue
                if len(out) == limit:
                    return out, record.id
                out.append(record)
            return out, None

    def active(self, obj: ObjectType) -> list[Record]:
        """A snapshot of the non-archived records in creation order (search input)."""
        with self.lock:
            return [r for r in self.records[obj.name].values() if not r.archived]

    def count(self, obj: ObjectType) -> int:
        with self.lock:
            return sum(1 for r in self.records[obj.name].values() if not r.archived)

    # ---- writes -------------------------------------------------------------------------

    def _check_unique(self, obj: ObjectType, values: dict[str, str], own_id: int | None) -> None:
        for prop in obj.unique_props:
            value = values.get(prop)
            if not value:
                continue
            existing = self._unique[(obj.name, prop)].get(value.lower())
            if existing is not None and existing != own_id:
                raise conflict(f"{obj.singular.capitalize()} already exists. "
                               f"Existing ID: {existing}")

    def _index(self, record: Record, obj: ObjectType, add: bool) -> None:
        for prop in obj.unique_props:
            value = record.props.get(prop)
            if value:
                index = self._unique[(obj.name, prop)]
                if add:
                    index[value.lower()] = record.id
                elif index.get(value.lower()) == record.id:
                    del index[value.lower()]

    def insert(self, obj: ObjectType, values: dict[str, str], *, created_ms: int | None = None,
               updated_ms: int | None = None, source: str = "API", emit: bool = True,
               track_history: bool = True) -> Record:
        """Create a record (values already validated); raises 409 on a duplicate key."""
        with self.lock:
            self._check_unique(obj, values, None)
            ts = now_ms(self.clock)
            created = created_ms if created_ms is not None else ts
            updated = updated_ms if updated_ms is not None else created
            oid = self._next_id[obj.name]
            self._next_id[obj.name] = oid + 1
            props = {k: v for k, v in values.items() if v != ""}
            props.update({"hs_object_id": str(oid), obj.created_prop: iso_ms(created),
                          obj.modified_prop: iso_ms(updated)})
            record = Record(oid, obj.name, props, created, updated)
            if track_history:
                record.history = {k: [(v, created, source)] for k, v in props.items()}
            self.records[obj.name][oid] = record
            self._ids[obj.name].append(oid)
            self._index(record, obj, add=True)
        if emit:
            events = [ChangeEvent("creation", obj.name, oid, created, source)]
            events += [ChangeEvent("propertyChange", obj.name, oid, created, source, k, v,
                                   on_create=True)
                       for k, v in sorted(values.items()) if v != ""]
            self._emit(events)
        return record

    def update(self, obj: ObjectType, record: Record, values: dict[str, str],
               source: str = "API") -> Record:
        """Apply changed values; an empty string clears. Emits one event per change."""
        with self.lock:
            self._check_unique(obj, values, record.id)
            ts = max(now_ms(self.clock), record.updated_ms + 1)
            changed = {k: v for k, v in values.items() if record.props.get(k, "") != v}
            self._index(record, obj, add=False)
            for key, value in changed.items():
                if value == "":
                    record.props.pop(key, None)
                else:
                    record.props[key] = value
                if record.history is not None:
                    record.history.setdefault(key, []).append((value, ts, source))
            self._index(record, obj, add=True)
            if changed:
                record.updated_ms = ts
                record.props[obj.modified_prop] = iso_ms(ts)
        self._emit([ChangeEvent("propertyChange", obj.name, record.id, ts, source, k, v)
                    for k, v in sorted(changed.items())])
        return record

    def archive(self, obj: ObjectType, record: Record, source: str = "API") -> None:
        """Soft-delete (HubSpot keeps archived records restorable for 90 days)."""
        with self.lock:
            if record.archived:
                return
            ts = now_ms(self.clock)
            self._index(record, obj, add=False)
            record.archived, record.archived_ms = True, ts
        self._emit([ChangeEvent("deletion", obj.name, record.id, ts, source)])

    def merge(self, obj: ObjectType, primary: Record, other: Record) -> Record:
        """Merge ``other`` into ``primary``: fill empty properties, move associations."""
        if primary.id == other.id:
            raise validation_error("Cannot merge an object with itself")
        with self.lock:
            ts = now_ms(self.clock)
            system = {"hs_object_id", obj.created_prop, obj.modified_prop, "hs_merged_object_ids"}
            moved = {k: v for k, v in other.props.items()
                     if k not in system and k not in primary.props}
            self._index(other, obj, add=False)
            other.archived, other.archived_ms = True, ts
            for key, value in moved.items():
                primary.props[key] = value
            merged_ids = [x for x in primary.props.get("hs_merged_object_ids", "").split(";") if x]
            primary.props["hs_merged_object_ids"] = ";".join([*merged_ids, str(other.id)])
            primary.updated_ms = max(ts, primary.updated_ms + 1)
            primary.props[obj.modified_prop] = iso_ms(primary.updated_ms)
            self._index(primary, obj, add=True)
            self._merged_into[(obj.name, other.id)] = primary.id
            for (src, sid), old in list(self._merged_into.items()):
                if src == obj.name and old == other.id:
                    self._merged_into[(src, sid)] = primary.id
            for to_type, targets in list(self._assoc.get((obj.name, other.id), {}).items()):
                for to_id, type_ids in list(targets.items()):
                    self.associate(obj.name, primary.id, to_type, to_id, type_ids)
        self._emit([ChangeEvent("merge", obj.name, primary.id, ts, "CRM", merge={
            "primaryObjectId": primary.id, "mergedObjectIds": [other.id],
            "newObjectId": primary.id, "numberOfPropertiesMoved": len(moved)})])
        return primary

    # ---- associations -------------------------------------------------------------------

    def associate(self, from_type: str, from_id: int, to_type: str, to_id: int,
                  type_ids: set[int] | list[int]) -> None:
        """Add association types in both directions (HubSpot stores the inverse too)."""
        with self.lock:
            for tid in type_ids:
                inverse = ASSOCIATION_TYPES[tid].inverse_id
                fwd = self._assoc.setdefault((from_type, from_id), {}).setdefault(to_type, {})
                fwd.setdefault(to_id, set()).add(tid)
                back = self._assoc.setdefault((to_type, to_id), {}).setdefault(from_type, {})
                back.setdefault(from_id, set()).add(inverse)

    def dissociate(self, from_type: str, from_id: int, to_type: str, to_id: int,
                   type_ids: set[int] | None = None) -> None:
        """Remove some (or all) association types between two records, both directions."""
        with self.lock:
            fwd = self._assoc.get((from_type, from_id), {}).get(to_type, {})
            back = self._assoc.get((to_type, to_id), {}).get(from_type, {})
            removing = set(fwd.get(to_id, set())) if type_ids is None else set(type_ids)
            for tid in removing:
                fwd.get(to_id, set()).discard(tid)
                back.get(from_id, set()).discard(ASSOCIATION_TYPES[tid].inverse_id)
            if not fwd.get(to_id):
                fwd.pop(to_id, None)
            if not back.get(from_id):
                back.pop(from_id, None)

    def associations(self, from_type: str, from_id: int,
                     to_type: str) -> list[tuple[int, set[int]]]:
        """Live (non-archived) associated ids in id order with their type ids."""
        with self.lock:
            targets = self._assoc.get((from_type, from_id), {}).get(to_type, {})
            recs = self.records[to_type]
            return [(tid, set(types)) for tid, types in sorted(targets.items())
                    if tid in recs and not recs[tid].archived and types]

    def iter_all(self, obj: ObjectType) -> Iterator[Record]:
        with self.lock:
            yield from list(self.records[obj.name].values())
