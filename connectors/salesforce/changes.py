"""Turn stored Salesforce webhook events into changes, hydrating partial records.

An Outbound Message carries only the fields selected in its definition, and a CDC
UPDATE only the changed ones (protocols.md §2.6, §2.7). Applying a partial record would
blank the rest of the snapshot, and without ``SystemModstamp`` the store could not tell
an old retry from a newer version, so partial records are re-read through the API:
one ``SELECT … WHERE Id IN (…)`` per batch of ids (all records of a message, or all
``recordIds`` of a change event). The rows of a batch are cached for the sibling events
of the same message, each row used once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

from simple_salesforce import Salesforce

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.objects import (
    ID_RE,
    SObjectSpec,
    enrich,
    is_own_pop,
    soql_id_list,
    spec_for,
)
from connectors.salesforce.settings import SalesforceSettings
from hub.plugin import Change, Ignored, InboundEvent, SourceDeletion, SourceMerge, SourceRecord
from hub.transforms import parse_datetime

CACHE_SECONDS = 60.0
HYDRATE_CHUNK = 200
DELETES = {"DELETE", "GAP_DELETE"}


def _query(sf: Salesforce, *, soql: str) -> Any:
    return sf.query(soql)


class Interpreter:
    """The connector's ``interpret`` for Outbound Messages and change events."""

    def __init__(
        self, connector: str, client: SalesforceClient, settings: SalesforceSettings
    ) -> None:
        self.connector = connector
        self.client = client
        self.settings = settings
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        kind = event.payload.get("kind")
        if kind == "outbound_message":
            return self._outbound(event.payload)
        if kind == "cdc":
            return self._change(event.payload)
        return [Ignored(f"{event.event_type!r} is not a record change")]

    # -- completeness and hydration ----------------------------------------------------------
    def _fields(self, spec: SObjectSpec) -> list[str]:
        return spec.select_fields(self.settings.stream(spec.stream).extra_fields)

    def _complete(self, spec: SObjectSpec, fields: dict[str, Any]) -> bool:
        return all(name.split(".", 1)[0] in fields for name in self._fields(spec))

    def _record(self, spec: SObjectSpec, row: dict[str, Any]) -> Change:
        if is_own_pop(spec, row, self.settings.pop.task_key_field):
            return Ignored("a screen-pop Task Threadline created")
        return SourceRecord(
            spec.object_type,
            str(row["Id"]),
            enrich(spec, row),
            updated_at=parse_datetime(row.get("SystemModstamp")),
        )

    def hydrate(self, spec: SObjectSpec, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Current rows for ``ids`` (cached ones first); missing ids are deleted or hidden."""
        now = time.monotonic()
        self._cache = {k: v for k, v in self._cache.items() if now - v[0] < CACHE_SECONDS}
        wanted = list(dict.fromkeys(i for i in ids if ID_RE.match(i)))
        found = {}
        for record_id in wanted:
            cached = self._cache.pop((spec.sobject, record_id), None)
            if cached is not None:
                found[record_id] = cached[1]
        missing = [i for i in wanted if i not in found]
        fields = ", ".join(self._fields(spec))
        for start in range(0, len(missing), HYDRATE_CHUNK):
            chunk = missing[start : start + HYDRATE_CHUNK]
            ids = soql_id_list(chunk)  # only values shaped like ids reach the query
            soql = f"SELECT {fields} FROM {spec.sobject} WHERE Id IN {ids}"  # noqa: S608
            result = self.client.call(f"hydrate {spec.sobject}", partial(_query, soql=soql))
            for row in (result or {}).get("records") or []:
                found[str(row["Id"])] = dict(row)
        return found

    def _hydrated(self, spec: SObjectSpec, record_id: str, batch: list[str]) -> Change:
        cached = self._cache.pop((spec.sobject, record_id), None)
        if cached is not None and time.monotonic() - cached[0] < CACHE_SECONDS:
            return self._record(spec, cached[1])  # fetched with an earlier sibling
        rows = self.hydrate(spec, [record_id, *batch])
        for other, row in rows.items():
            if other != record_id:
                self._cache[(spec.sobject, other)] = (time.monotonic(), row)
        found = rows.get(record_id)
        if found is None:
            return Ignored(
                f"{spec.sobject} {record_id} is deleted or not visible; "
                "the deletes stream records its deletion"
            )
        return self._record(spec, found)

    # -- Outbound Messages -------------------------------------------------------------------
    def _outbound(self, payload: dict[str, Any]) -> list[Change]:
        sobject = str(payload.get("sobject") or "")
        spec = spec_for(sobject)
        if spec is None:
            return [Ignored(f"outbound messages for {sobject!r} are not synced")]
        fields = dict(payload.get("fields") or {})
        record_id = str(fields.get("Id") or "")
        if self._complete(spec, fields):
            return [self._record(spec, fields)]
        batch = [str(i) for i in payload.get("batch_ids") or [] if i != record_id]
        return [self._hydrated(spec, record_id, batch)]

    # -- change events -----------------------------------------------------------------------
    def _change(self, payload: dict[str, Any]) -> list[Change]:
        header: dict[str, Any] = payload.get("header") or {}
        fields: dict[str, Any] = payload.get("fields") or {}
        entity = str(header.get("entityName") or "")
        change = str(header.get("changeType") or "")
        ids = [str(i) for i in header.get("recordIds") or []]
        spec = spec_for(entity)
        if spec is None:
            return [Ignored(f"change events for {entity!r} are not synced")]
        if change == "GAP_OVERFLOW" or any(not ID_RE.match(i) for i in ids):
            return [
                Ignored(
                    f"{change} for {entity} without usable record ids; run "
                    f"`threadline sync {self.connector} --stream {spec.stream}`"
                )
            ]
        at = parse_datetime(header.get("commitTimestamp"))
        if change in DELETES:
            master = fields.get("MasterRecordId")
            if isinstance(master, str) and ID_RE.match(master):
                return [SourceMerge(spec.object_type, master, tuple(ids), at)]
            return [SourceDeletion(spec.object_type, i, at) for i in ids]
        if change == "CREATE" and len(ids) == 1 and self._complete(spec, fields):
            return [self._record(spec, {**fields, "Id": ids[0]})]
        rows = self.hydrate(spec, ids)
        changes: list[Change] = [self._record(spec, rows[i]) for i in ids if i in rows]
        return changes or [Ignored(f"{entity} {', '.join(ids)} no longer readable")]
