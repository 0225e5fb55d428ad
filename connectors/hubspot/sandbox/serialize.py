"""Render records as HubSpot's ``SimplePublicObject`` family and parse list-style params.

The shapes are those of hubspot-api-client's generated models (HubSpot's OpenAPI specs):
string ``id``, string property values (``null`` when requested but empty), ISO
timestamps with milliseconds and ``Z``, ``archived`` always present.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .errors import validation_error
from .schema import ASSOCIATION_TYPES, ObjectType, resolve_type
from .store import CRMStore, Record
from .timeutil import iso_ms


def split_list(values: Iterable[str]) -> list[str]:
    """Accept both ``?properties=a&properties=b`` (the SDK) and ``?properties=a,b`` (docs)."""
    out: list[str] = []
    for value in values:
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def parse_bool(value: str | None, name: str) -> bool:
    """The SDK sends Python's ``False``/``True``; the docs use ``false``/``true``."""
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise validation_error(f"Invalid value for {name}: {value}")
    return lowered == "true"


def parse_limit(value: str | None, default: int, maximum: int) -> int:
    """A positive integer no larger than ``maximum`` (HubSpot rejects larger pages)."""
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError:
        raise validation_error(f"limit must be an integer, got {value!r}") from None
    if limit < 1 or limit > maximum:
        raise validation_error(f"limit must be between 1 and {maximum}, got {limit}")
    return limit


def select_properties(obj: ObjectType, record: Record,
                      requested: list[str] | None) -> dict[str, str | None]:
    """Requested known properties (``null`` when empty); defaults when none requested.

    HubSpot silently drops requested names that are not properties of the object.
    """
    names = requested if requested else list(obj.default_properties)
    return {n: record.props.get(n) for n in names if n in obj.properties}


def history_for(obj: ObjectType, record: Record,
                names: list[str]) -> dict[str, list[dict[str, Any]]]:
    """``propertiesWithHistory``: newest first, like HubSpot."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        if name not in obj.properties:
            continue
        if record.history is not None:
            entries = record.history.get(name, [])
        elif name in record.props:  # seeded records: one synthetic entry
            entries = [(record.props[name], record.created_ms, "IMPORT")]
        else:
            entries = []
        out[name] = [{"value": v, "timestamp": iso_ms(ts), "sourceType": src}
                     for v, ts, src in reversed(entries)]
    return out


def render(obj: ObjectType, record: Record, properties: list[str] | None = None, *,
           with_history: list[str] | None = None) -> dict[str, Any]:
    """One ``SimplePublicObject``."""
    body: dict[str, Any] = {
        "id": str(record.id),
        "properties": select_properties(obj, record, properties),
        "createdAt": iso_ms(record.created_ms),
        "updatedAt": iso_ms(record.updated_ms),
        "archived": record.archived,
    }
    if record.archived and record.archived_ms is not None:
        body["archivedAt"] = iso_ms(record.archived_ms)
    if with_history:
        body["propertiesWithHistory"] = history_for(obj, record, with_history)
    return body


def render_associations(store: CRMStore, obj: ObjectType, record: Record,
                        wanted: list[str]) -> dict[str, Any]:
    """The v3 ``associations`` block: keyed by the requested type, one row per type id."""
    out: dict[str, Any] = {}
    for name in wanted:
        target = resolve_type(name)
        if target is None:
            continue
        rows = [{"id": str(to_id), "type": ASSOCIATION_TYPES[tid].name}
                for to_id, tids in store.associations(obj.name, record.id, target.name)
                for tid in sorted(tids)]
        if rows:
            out[name] = {"results": rows}
    return out


def paging(after: int | str | None, link_base: str | None = None) -> dict[str, Any]:
    """``paging`` block, or an empty dict on the last page (HubSpot omits the key)."""
    if after is None:
        return {}
    nxt: dict[str, Any] = {"after": str(after)}
    if link_base is not None:
        nxt["link"] = f"{link_base}?after={after}"
    return {"paging": {"next": nxt}}
