"""The in-memory org: records per sObject type, the recycle bin, and write rules.

One :class:`Store` is one org. Every public method takes the store's lock, so the
threaded WSGI server and a test mutating records "mid-sync" never see a
half-written record. Writes enforce the rules the REST API enforces (unknown
field, read-only field, required field, value types) and maintain the system
fields (``SystemModstamp``, ``LastModifiedDate``, derived ``Name``...).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from .errors import SalesforceError, not_found
from .ids import make_id, normalize_id
from .objects import STANDARD_OBJECTS, prefix_to_type
from .schema import SObjectType
from .values import coerce

Record = dict[str, Any]
Clock = Callable[[], datetime]

_DEFAULTS: dict[str, dict[str, Any]] = {
    "Lead": {"Status": "Open - Not Contacted", "IsConverted": False},
    "Case": {"Status": "New", "Priority": "Medium"},
    "Task": {"Status": "Not Started", "Priority": "Normal"},
    "Event": {"IsAllDayEvent": False},
}


def system_clock() -> datetime:
    """Wall-clock UTC now; the default clock of a sandbox."""
    return datetime.now(UTC)


class Store:
    """Thread-safe records of one org, keyed by type then 18-char id (insertion-ordered)."""

    def __init__(
        self,
        types: Iterable[SObjectType] = STANDARD_OBJECTS,
        clock: Clock = system_clock,
        default_owner_id: str | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.types: dict[str, SObjectType] = {}
        self.records: dict[str, dict[str, Record]] = {}
        self.deleted_at: dict[str, datetime] = {}
        self._counters: dict[str, int] = {}
        self._case_number = 1000
        self.default_owner_id = default_owner_id or make_id("005", 1)
        for sobject in types:
            self.add_type(sobject)

    # -- types -------------------------------------------------------------------------------
    def add_type(self, sobject: SObjectType) -> None:
        """Register an sObject type (a standard object or a platform event)."""
        with self.lock:
            self.types[sobject.name.lower()] = sobject
            self.records.setdefault(sobject.name, {})

    def type_named(self, name: str) -> SObjectType | None:
        """Case-insensitive lookup, as the REST API resolves ``/sobjects/contact``."""
        return self.types.get(name.lower())

    # -- ids and time ------------------------------------------------------------------------
    def now(self) -> datetime:
        """The clock truncated to whole seconds: the API renders datetimes with ``.000``."""
        return self.clock().astimezone(UTC).replace(microsecond=0)

    def next_id(self, sobject: SObjectType) -> str:
        """Allocate the next id for ``sobject`` (deterministic per store)."""
        with self.lock:
            count = self._counters.get(sobject.key_prefix, 0) + 1
            self._counters[sobject.key_prefix] = count
            return make_id(sobject.key_prefix, count)

    def reserve_ids(self, sobject: SObjectType, count: int) -> None:
        """Skip the first ``count`` ids of a type (taken by seeded rows)."""
        with self.lock:
            current = self._counters.get(sobject.key_prefix, 0)
            self._counters[sobject.key_prefix] = max(current, count)
            if sobject.name == "Case":
                self._case_number = max(self._case_number, count)

    def next_case_number(self) -> str:
        """Case numbers are an eight-digit auto number."""
        with self.lock:
            self._case_number += 1
            return f"{self._case_number:08d}"

    # -- reads -------------------------------------------------------------------------------
    def get(self, sobject: SObjectType, record_id: str) -> Record:
        """Return the live record or raise the 404 Salesforce sends for that id."""
        canonical = normalize_id(record_id)
        if canonical is None:
            # A path segment that is not an id is read as an external id field name.
            raise SalesforceError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {record_id}",
            )
        with self.lock:
            record = self.records[sobject.name].get(canonical)
            if record is None:
                raise not_found()
            if record.get("IsDeleted"):
                raise SalesforceError(404, "ENTITY_IS_DELETED", "entity is deleted")
            return dict(record)

    def all_records(self, sobject: SObjectType) -> list[Record]:
        """Every record of a type including recycle-bin rows (the query engine filters)."""
        with self.lock:
            return list(self.records[sobject.name].values())

    def find(self, record_id: str) -> Record | None:
        """Find a record of any type by id (used to resolve polymorphic references)."""
        canonical = normalize_id(record_id)
        type_name = prefix_to_type(canonical[:3]) if canonical else None
        if canonical is None or type_name is None:
            return None
        with self.lock:
            return self.records.get(type_name, {}).get(canonical)

    # -- writes ------------------------------------------------------------------------------
    def create(self, sobject: SObjectType, values: dict[str, Any]) -> Record:
        """Validate and insert a record as ``POST /sobjects/{type}/`` does; return it."""
        if not sobject.createable:
            raise SalesforceError(
                400,
                "INVALID_TYPE_FOR_OPERATION",
                f"entity type {sobject.name} does not support insert",
            )
        clean = self._validate(sobject, values, creating=True)
        with self.lock:
            now = self.now()
            record: Record = {f.name: None for f in sobject.fields}
            record.update({f.name: False for f in sobject.fields if f.type == "boolean"})
            record.update(_DEFAULTS.get(sobject.name, {}))
            record.update(clean)
            record["Id"] = self.next_id(sobject)
            for key in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                if key in record:
                    record[key] = now
            for key in ("OwnerId", "CreatedById", "LastModifiedById"):
                if key in record and record[key] is None:
                    record[key] = self.default_owner_id
            if "CaseNumber" in record:
                record["CaseNumber"] = self.next_case_number()
            self._derive(sobject, record)
            self.records[sobject.name][record["Id"]] = record
            return dict(record)

    def update(self, sobject: SObjectType, record_id: str, values: dict[str, Any]) -> None:
        """Validate and apply a PATCH; bumps ``LastModifiedDate`` and ``SystemModstamp``."""
        if not sobject.updateable:
            raise SalesforceError(
                400,
                "INVALID_TYPE_FOR_OPERATION",
                f"entity type {sobject.name} does not support update",
            )
        clean = self._validate(sobject, values, creating=False)
        with self.lock:
            current = self.get(sobject, record_id)
            record = self.records[sobject.name][current["Id"]]
            record.update(clean)
            now = self.now()
            record["LastModifiedDate"] = now
            record["SystemModstamp"] = now
            self._derive(sobject, record)

    def delete(self, sobject: SObjectType, record_id: str) -> None:
        """Move a record to the recycle bin: ``IsDeleted`` true, still visible to queryAll."""
        if not sobject.deletable:
            raise SalesforceError(
                400,
                "INVALID_TYPE_FOR_OPERATION",
                f"entity type {sobject.name} does not support delete",
            )
        with self.lock:
            current = self.get(sobject, record_id)
            record = self.records[sobject.name][current["Id"]]
            now = self.now()
            record["IsDeleted"] = True
            record["SystemModstamp"] = now
            self.deleted_at[record["Id"]] = now

    def bulk_insert(self, sobject: SObjectType, rows: Iterable[Record]) -> None:
        """Insert fully formed rows without validation (the seeder's fast path)."""
        with self.lock:
            table = self.records[sobject.name]
            for row in rows:
                self._derive(sobject, row)
                table[row["Id"]] = row

    # -- replication (updated/deleted resources) ---------------------------------------------
    def updated_ids(self, sobject: SObjectType, start: datetime, end: datetime) -> list[str]:
        """Ids of live records whose ``SystemModstamp`` falls in ``[start, end)``."""
        with self.lock:
            return [
                rid
                for rid, rec in self.records[sobject.name].items()
                if not rec.get("IsDeleted") and start <= rec["SystemModstamp"] < end
            ]

    def deleted_between(
        self, sobject: SObjectType, start: datetime, end: datetime
    ) -> list[tuple[str, datetime]]:
        """``(id, deletedDate)`` of recycle-bin rows deleted in ``[start, end)``."""
        with self.lock:
            return [
                (rid, self.deleted_at[rid])
                for rid, rec in self.records[sobject.name].items()
                if rec.get("IsDeleted") and start <= self.deleted_at[rid] < end
            ]

    def earliest_deletion(self) -> datetime | None:
        """The oldest deletion still in the recycle bin, if any."""
        with self.lock:
            return min(self.deleted_at.values(), default=None)

    # -- rules -------------------------------------------------------------------------------
    def _validate(self, sobject: SObjectType, values: dict[str, Any], *, creating: bool) -> Record:
        if not isinstance(values, dict):
            raise SalesforceError(
                400,
                "JSON_PARSER_ERROR",
                "Cannot deserialize instance of sObject from START_ARRAY value",
            )
        clean: Record = {}
        read_only: list[str] = []
        for key, value in values.items():
            if key == "attributes":
                continue
            f = sobject.field(key)
            if f is None:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{key}' on sobject of type {sobject.name}",
                )
            if not (f.createable if creating else f.updateable):
                read_only.append(f.name)
                continue
            clean[f.name] = coerce(f, value, sobject.name)
        if read_only:
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(read_only)}. Please check the "
                "security settings of this field and verify that it is read/write for your "
                "profile or permission set.",
                fields=read_only,
            )
        missing = [
            f.name
            for f in sobject.fields
            if f.required
            and (
                (creating and clean.get(f.name) in (None, ""))
                or (not creating and f.name in clean and clean[f.name] in (None, ""))
            )
        ]
        if missing:
            raise SalesforceError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                fields=missing,
            )
        self._check_references(sobject, clean)
        return clean

    def _check_references(self, sobject: SObjectType, clean: Record) -> None:
        for f in sobject.fields:
            value = clean.get(f.name)
            if f.type != "reference" or value is None or f.reference_to == ("User",):
                continue
            target = self.find(value)
            if target is None or target.get("IsDeleted"):
                raise SalesforceError(
                    400,
                    "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
                    f"insufficient access rights on cross-reference id: {value}",
                    fields=[f.name],
                )

    def _derive(self, sobject: SObjectType, record: Record) -> None:
        """Maintain formula-like system fields the way Salesforce does on save."""
        if "Name" in record and sobject.field("FirstName") is not None:
            first, last = record.get("FirstName"), record.get("LastName")
            record["Name"] = f"{first} {last}" if first else last
        if sobject.name == "Case":
            closed = record.get("Status") == "Closed"
            record["IsClosed"] = closed
            if closed and record.get("ClosedDate") is None:
                record["ClosedDate"] = record.get("LastModifiedDate")
        elif sobject.name == "Task":
            record["IsClosed"] = record.get("Status") == "Completed"
        if sobject.name in ("Task", "Event"):
            record["AccountId"] = self._activity_account(record)
        if sobject.name == "Event" and record.get("StartDateTime") is not None:
            record["ActivityDateTime"] = record["StartDateTime"]
            record["ActivityDate"] = record["StartDateTime"].date()

    def _activity_account(self, record: Record) -> str | None:
        what = record.get("WhatId")
        if what and what.startswith("001"):
            return str(what)
        if what and what.startswith("500"):
            case = self.records["Case"].get(what)
            return case.get("AccountId") if case else None
        who = record.get("WhoId")
        if who and who.startswith("003"):
            contact = self.records["Contact"].get(who)
            return contact.get("AccountId") if contact else None
        return None
