"""``query`` / ``queryAll`` and their cursors (``nextRecordsUrl`` paging).

A query runs once; its matching ids are kept under a locator (``01g...``) and
pages are rendered from the store when requested, so an edit made between pages
shows up in later pages, as it can with a real server-side cursor. Batches hold
up to 2,000 records; ``Sforce-Query-Options: batchSize=N`` is honoured within
Salesforce's 200..2,000 range. A cursor closes after its last page and after 15
idle minutes; using it afterwards is INVALID_QUERY_LOCATOR.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import SalesforceError
from .ids import random_token
from .schema import SObjectType
from .soql import parse
from .soql_eval import Column, Plan, plan
from .store import Record, Store
from .values import render

DEFAULT_BATCH = 2000
MIN_BATCH = 200
CURSOR_IDLE_SECONDS = 15 * 60
_BATCH_RE = re.compile(r"batchSize\s*=\s*(\d+)", re.IGNORECASE)


def batch_size(header: str | None) -> int | None:
    """Read ``Sforce-Query-Options: batchSize=N``, clamped to what Salesforce allows."""
    match = _BATCH_RE.search(header or "")
    if match is None:
        return None
    return max(MIN_BATCH, min(DEFAULT_BATCH, int(match.group(1))))


def render_record(
    store: Store, sobject: SObjectType, columns: list[Column] | None, record: Record, version: str
) -> dict[str, Any]:
    """A record as the query and retrieve resources return it (``attributes`` first)."""
    out: dict[str, Any] = {
        "attributes": {
            "type": sobject.name,
            "url": f"/services/data/{version}/sobjects/{sobject.name}/{record['Id']}",
        }
    }
    if columns is None:
        out.update({f.name: render(record.get(f.name)) for f in sobject.fields})
        return out
    for column in columns:
        if column.target is None:
            out[column.path[0]] = render(record.get(column.path[0]))
            continue
        relation = column.path[0]
        parent = store.records[column.target.name].get(record.get(column.fk or "") or "")
        if parent is None:
            out[relation] = None
            continue
        nested = out.get(relation) or {
            "attributes": {
                "type": column.target.name,
                "url": f"/services/data/{version}/sobjects/{column.target.name}/{parent['Id']}",
            }
        }
        nested[column.path[1]] = render(parent.get(column.path[1]))
        out[relation] = nested
    return out


@dataclass
class Cursor:
    plan: Plan
    version: str
    endpoint: str  # "query" or "queryAll"
    batch: int
    touched: float = field(default_factory=time.monotonic)


class Cursors:
    """Open query locators; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[str, Cursor] = {}

    def open(self, cursor: Cursor) -> str:
        locator = "01g" + random_token(secrets.choice, 15)
        with self._lock:
            self._open[locator] = cursor
        return locator

    def get(self, locator: str) -> Cursor:
        with self._lock:
            cursor = self._open.get(locator)
            if cursor is None or time.monotonic() - cursor.touched > CURSOR_IDLE_SECONDS:
                self._open.pop(locator, None)
                raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            cursor.touched = time.monotonic()
            return cursor

    def close(self, locator: str) -> None:
        with self._lock:
            self._open.pop(locator, None)

    def expire_all(self) -> None:
        """Invalidate every open locator (as a 15-minute idle timeout would)."""
        with self._lock:
            self._open.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._open)


def run_query(
    store: Store,
    cursors: Cursors,
    soql: str | None,
    *,
    version: str,
    include_deleted: bool,
    batch: int | None,
) -> dict[str, Any]:
    """Run a SOQL query and return its first page."""
    if not soql:
        raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
    result = plan(parse(soql), store, include_deleted=include_deleted)
    if result.columns is None:  # SELECT COUNT()
        return {"totalSize": len(result.ids), "done": True, "records": []}
    endpoint = "queryAll" if include_deleted else "query"
    cursor = Cursor(result, version, endpoint, batch or DEFAULT_BATCH)
    return _page(store, cursors, cursor, None, 0, version)


def query_more(
    store: Store, cursors: Cursors, locator_and_offset: str, *, version: str, batch: int | None
) -> dict[str, Any]:
    """Serve ``GET /query/{locator}-{offset}``."""
    locator, _, offset_text = locator_and_offset.partition("-")
    cursor = cursors.get(locator)
    if not offset_text.isdigit() or int(offset_text) >= len(cursor.plan.ids):
        raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    if batch:
        cursor.batch = batch
    return _page(store, cursors, cursor, locator, int(offset_text), version)


def _page(
    store: Store, cursors: Cursors, cursor: Cursor, locator: str | None, offset: int, version: str
) -> dict[str, Any]:
    ids = cursor.plan.ids
    sobject = cursor.plan.sobject
    end = min(offset + cursor.batch, len(ids))
    with store.lock:
        table = store.records[sobject.name]
        records = [
            render_record(store, sobject, cursor.plan.columns, table[rid], version)
            for rid in ids[offset:end]
        ]
    body: dict[str, Any] = {"totalSize": len(ids), "done": end >= len(ids)}
    if end < len(ids):
        locator = locator or cursors.open(cursor)
        body["nextRecordsUrl"] = (
            f"/services/data/{cursor.version}/{cursor.endpoint}/{locator}-{end}"
        )
    elif locator is not None:
        cursors.close(locator)
    body["records"] = records
    return body
