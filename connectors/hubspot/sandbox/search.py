"""``POST /crm/v3/objects/{type}/search``: validation, filterGroups, one sort, offset paging.

Facts (HubSpot "CRM search" guide, ../shared/protocols.md §1.4): filters AND within a
group, groups OR; at most 5 groups, 6 filters per group, 18 filters; limit default 10,
max 200; ``after`` is an integer offset as a string; a query can page to 10,000 results
and no further (400); every body field is optional; archived records never match.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import validation_error
from .schema import DATETIME, ENUM, NUMBER, ObjectType, PropertyDef
from .serialize import paging, render
from .store import CRMStore, Record
from .timeutil import parse_datetime_ms

OPERATORS = frozenset({"LT", "LTE", "GT", "GTE", "EQ", "NEQ", "BETWEEN", "IN", "NOT_IN",
                       "HAS_PROPERTY", "NOT_HAS_PROPERTY", "CONTAINS_TOKEN",
                       "NOT_CONTAINS_TOKEN"})
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, DEFAULT_LIMIT, MAX_QUERY_CHARS = 200, 10, 3000
_TOKEN_SPLIT = re.compile(r"[\s,;]+")

Predicate = Callable[[Record], bool]


@dataclass(frozen=True)
class SearchCap:
    """Where paging stops. ``mode="after"``: reject ``after >= cap``; ``"window"``: reject
    ``after + limit > cap``. HubSpot documents 10,000 but not which boundary [U]."""

    cap: int = 10_000
    mode: str = "after"

    def check(self, after: int, limit: int) -> None:
        beyond = after + limit > self.cap if self.mode == "window" else after >= self.cap
        if beyond:
            raise validation_error(
                f"Search results are limited to {self.cap} total results; "
                f"cannot page beyond {self.cap} (after={after}, limit={limit}).",
                context={"after": [str(after)], "limit": [str(limit)]})


def _typed(definition: PropertyDef, record: Record, obj: ObjectType) -> Any:
    """The comparable value of a record's property, or None when it has none."""
    name = definition.name
    if name == obj.created_prop:
        return record.created_ms
    if name == obj.modified_prop:
        return record.updated_ms
    raw = record.props.get(name)
    if raw is None or raw == "":
        return None
    if definition.type == DATETIME:
        return parse_datetime_ms(raw)
    if definition.type == NUMBER:
        return float(raw)
    return raw if definition.type == ENUM else raw.lower()


def _operand(definition: PropertyDef, value: Any, where: str) -> Any:
    """Parse a filter value for ``definition``; dates are epoch-ms (or ISO) strings."""
    if value is None:
        raise validation_error(f"{where}: a value is required for this operator")
    text = str(value)
    if definition.type == DATETIME:
        ms = parse_datetime_ms(text)
        if ms is None:
            raise validation_error(f"{where}: {text!r} is not a valid date (epoch ms)")
        return ms
    if definition.type == NUMBER:
        try:
            return float(text)
        except ValueError:
            raise validation_error(f"{where}: {text!r} is not a valid number") from None
    return text if definition.type == ENUM else text.lower()


def _tokens_match(raw: str | None, pattern: str) -> bool:
    if not raw:
        return False
    lowered, pattern = raw.lower(), pattern.lower()
    tokens = [lowered, *(t for t in _TOKEN_SPLIT.split(lowered) if t)]
    if "*" in pattern:
        return any(fnmatch.fnmatchcase(t, pattern) for t in tokens)
    return pattern in tokens


def _compile_filter(obj: ObjectType, raw: Any, where: str) -> Predicate:  # noqa: C901
    if not isinstance(raw, dict):
        raise validation_error(f"{where}: a filter must be an object")
    name, op = raw.get("propertyName"), raw.get("operator")
    if not isinstance(name, str) or not name:
        raise validation_error(f"{where}: propertyName is required")
    if op not in OPERATORS:
        raise validation_error(f"{where}: operator must be one of {sorted(OPERATORS)}")
    definition = obj.properties.get(name)
    if definition is None:
        raise validation_error(f"{where}: Property \"{name}\" does not exist on {obj.name}")

    def get(r: Record) -> Any:
        return _typed(definition, r, obj)

    if op == "HAS_PROPERTY":
        return lambda r: get(r) is not None
    if op == "NOT_HAS_PROPERTY":
        return lambda r: get(r) is None
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        if raw.get("value") is None:
            raise validation_error(f"{where}: a value is required for {op}")
        pattern, negate = str(raw["value"]), op == "NOT_CONTAINS_TOKEN"
        return lambda r: _tokens_match(r.props.get(name), pattern) != negate
    if op in ("IN", "NOT_IN"):
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise validation_error(f"{where}: {op} needs a non-empty values list")
        # HubSpot compares string properties lowercased and asks for lowercase values.
        wanted = {_operand(definition, v, where) if definition.type in (DATETIME, NUMBER)
                  else str(v) for v in values}
        if op == "IN":
            return lambda r: get(r) in wanted
        return lambda r: get(r) not in wanted
    low = _operand(definition, raw.get("value"), where)
    if op == "BETWEEN":
        high = _operand(definition, raw.get("highValue"), where)
        return lambda r: (v := get(r)) is not None and low <= v <= high
    comparisons: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda v: v == low, "NEQ": lambda v: v != low, "LT": lambda v: v < low,
        "LTE": lambda v: v <= low, "GT": lambda v: v > low, "GTE": lambda v: v >= low,
    }
    compare = comparisons[op]
    if op == "NEQ":
        return lambda r: (v := get(r)) is None or compare(v)
    return lambda r: (v := get(r)) is not None and compare(v)


def _compile_groups(obj: ObjectType, groups: Any) -> list[list[Predicate]]:
    if groups is None:
        return []
    if not isinstance(groups, list):
        raise validation_error("filterGroups must be an array")
    if len(groups) > MAX_GROUPS:
        raise validation_error(f"Too many filter groups: {len(groups)} (max {MAX_GROUPS})")
    compiled: list[list[Predicate]] = []
    total = 0
    for gi, group in enumerate(groups):
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise validation_error(f"filterGroups[{gi}].filters must be an array")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise validation_error(f"Too many filters in filterGroups[{gi}]: {len(filters)} "
                                   f"(max {MAX_FILTERS_PER_GROUP})")
        total += len(filters)
        compiled.append([_compile_filter(obj, f, f"filterGroups[{gi}].filters[{fi}]")
                         for fi, f in enumerate(filters)])
    if total > MAX_FILTERS:
        raise validation_error(f"Too many filters: {total} (max {MAX_FILTERS} in total)")
    return compiled


def _parse_sort(obj: ObjectType, sorts: Any) -> tuple[PropertyDef, bool] | None:
    """One sort, as ``{"propertyName", "direction"}`` (docs) or ``"-name"`` (spec)."""
    if sorts is None or sorts == []:
        return None
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise validation_error("sorts must be an array with at most one sort")
    item = sorts[0]
    if isinstance(item, str):
        name, descending = item.lstrip("-"), item.startswith("-")
    elif isinstance(item, dict) and isinstance(item.get("propertyName"), str):
        direction = item.get("direction", "ASCENDING")
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation_error("sort direction must be ASCENDING or DESCENDING")
        name, descending = item["propertyName"], direction == "DESCENDING"
    else:
        raise validation_error("sorts[0] must be a property name or {propertyName, direction}")
    definition = obj.properties.get(name)
    if definition is None:
        raise validation_error(f"Property \"{name}\" does not exist on {obj.name}")
    return definition, descending


def _text_match(obj: ObjectType, query: str) -> Predicate:
    """Each query word must start at a word boundary of a default searchable property
    (so ``gra`` finds Grace and ``example.com`` finds e-mails at that domain)."""
    patterns = [re.compile(r"(?:^|[\s@.\-+()])" + re.escape(term))
                for term in query.lower().split()]

    def match(record: Record) -> bool:
        values = [record.props.get(p, "").lower() for p in obj.text_search_props]
        return all(any(pattern.search(v) for v in values if v) for pattern in patterns)

    return match


def _int_field(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not str(value).lstrip("-").isdigit():
        raise validation_error(f"{key} must be an integer, got {value!r}")
    return int(value)


def search(store: CRMStore, obj: ObjectType, body: Any, cap: SearchCap) -> dict[str, Any]:
    """Run one search request and return the ``CollectionResponseWithTotal`` body."""
    if not isinstance(body, dict):
        raise validation_error("Invalid input JSON: the search body must be an object")
    limit = _int_field(body, "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise validation_error(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    after = _int_field(body, "after", 0)
    if after < 0:
        raise validation_error("after must not be negative")
    groups = _compile_groups(obj, body.get("filterGroups"))
    sort = _parse_sort(obj, body.get("sorts"))
    props = body.get("properties")
    if props is not None and not (isinstance(props, list)
                                  and all(isinstance(p, str) for p in props)):
        raise validation_error("properties must be an array of strings")
    query = body.get("query")
    if query is not None and (not isinstance(query, str) or len(query) > MAX_QUERY_CHARS):
        raise validation_error(f"query must be a string of at most {MAX_QUERY_CHARS} chars")
    cap.check(after, limit)

    text = _text_match(obj, query) if query else None
    matches = [r for r in store.active(obj)
               if (not groups or any(all(p(r) for p in g) for g in groups))
               and (text is None or text(r))]
    if sort is not None:
        definition, descending = sort
        keyed = [(_typed(definition, r, obj), r) for r in matches]
        present = sorted(((v, r.id, r) for v, r in keyed if v is not None),
                         key=lambda t: (t[0], t[1]), reverse=descending)
        matches = [r for _, _, r in present] + [r for v, r in keyed if v is None]
    page = matches[after:after + limit]
    nxt = after + limit if after + limit < len(matches) else None
    return {"total": len(matches), "results": [render(obj, r, props) for r in page],
            **paging(nxt)}
