"""Per-field survivorship: the most recent source change wins, empty never overwrites.

Each unified field remembers in ``lineage`` which source record set it and that
source's own timestamp; a value from an older source version never replaces it, so
replays and out-of-order delivery converge on the same contact. Pure functions over
plain dicts, shared by the per-record and the bulk write paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CONTACT_COLUMNS = ("display_name", "first_name", "last_name", "company", "language", "tier")


def apply_fields(
    columns: dict[str, Any],
    attributes: dict[str, Any],
    lineage: dict[str, Any],
    fields: Mapping[str, Any],
    origin: dict[str, Any],
) -> bool:
    """Apply mapped ``fields`` from ``origin`` to the three dicts in place.

    Returns True when a value changed. A field is skipped when its lineage is newer
    than ``origin["at"]``; an equal value refreshes the lineage to the newer source.
    """
    changed = False
    for name, value in fields.items():
        current = lineage.get(name)
        at, seen = origin["at"], current.get("at") if current else None
        if seen and at and at < seen:
            continue
        if name.startswith("attributes."):
            key = name.removeprefix("attributes.")
            if attributes.get(key) == value:
                continue
            attributes[key] = value
        else:
            if columns.get(name) == value:
                if seen and at and at > seen:
                    lineage[name] = origin
                continue
            columns[name] = value
        lineage[name] = origin
        changed = True
    if not columns.get("display_name"):
        full = " ".join(p for p in (columns.get("first_name"), columns.get("last_name")) if p)
        if full:
            columns["display_name"] = full
    return changed
