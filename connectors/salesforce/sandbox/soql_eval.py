"""Resolve a parsed SOQL query against the org's schema and run it over the store.

Resolution raises what Salesforce raises: INVALID_TYPE for an unknown object,
INVALID_FIELD for an unknown field or a literal of the wrong type ("must be of
type dateTime and should not be enclosed in quotes"), INVALID_QUERY_FILTER_OPERATOR
for a malformed id. Conditions compile to Python closures once, so filtering
100k records stays well under a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from .errors import SalesforceError
from .ids import normalize_id
from .schema import ID_TYPES, NUMBER_TYPES, STRING_TYPES, Field, SObjectType
from .soql import BoolOp, Comparison, Condition, FieldRef, Literal, Not, Query, query_error
from .store import Record, Store
from .values import parse_date, parse_datetime

Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]
MAX_OFFSET = 2000


@dataclass
class Column:
    """A selected field: ``path`` is canonical (``("Account", "Name")``)."""

    path: tuple[str, ...]
    field: Field
    target: SObjectType | None  # the parent type for relationship paths
    getter: Getter
    fk: str | None = None  # the reference field holding the parent id (``AccountId``)


@dataclass
class Plan:
    """A resolved query: the object, the columns (None for COUNT()), and the matching ids."""

    sobject: SObjectType
    columns: list[Column] | None
    ids: list[str]


def _no_such_column(query: Query, ref: FieldRef, entity: str) -> SalesforceError:
    return query_error(
        "INVALID_FIELD",
        query.text,
        ref.pos,
        f"No such column '{ref.path[-1]}' on entity '{entity}'. If you are attempting to use "
        "a custom field, be sure to append the '__c' after the custom field name. Please "
        "reference your WSDL or the describe call for the appropriate names.",
    )


def resolve_column(query: Query, store: Store, sobject: SObjectType, ref: FieldRef) -> Column:
    """Resolve ``Email`` or ``Account.Name`` to a canonical path and a record getter."""
    if len(ref.path) == 1:
        f = sobject.field(ref.path[0])
        if f is None:
            raise _no_such_column(query, ref, sobject.name)
        name = f.name
        return Column((name,), f, None, lambda rec: rec.get(name))
    if len(ref.path) > 2:
        raise query_error(
            "MALFORMED_QUERY",
            query.text,
            ref.pos,
            "relationship paths deeper than one level are not supported by the Threadline sandbox",
        )
    link = sobject.relationship(ref.path[0])
    if link is None:
        raise query_error(
            "INVALID_FIELD",
            query.text,
            ref.pos,
            f"Didn't understand relationship '{ref.path[0]}' in field path. If you are "
            "attempting to use a custom relationship, be sure to append the '__r' after the "
            "custom relationship name. Please reference your WSDL or the describe call for "
            "the appropriate names.",
        )
    if len(link.reference_to) != 1:
        raise query_error(
            "MALFORMED_QUERY",
            query.text,
            ref.pos,
            "polymorphic relationships are not supported by the Threadline sandbox",
        )
    target = store.type_named(link.reference_to[0])
    assert target is not None
    f = target.field(ref.path[1])
    if f is None:
        raise _no_such_column(query, ref, target.name)
    fk, name, table = link.name, f.name, store.records[target.name]

    def getter(rec: Record) -> Any:
        parent = table.get(rec.get(fk) or "")
        return None if parent is None else parent.get(name)

    return Column((link.relationship_name or "", name), f, target, getter, fk)


# -- conditions ------------------------------------------------------------------------------
def _type_error(query: Query, ref: FieldRef, lit: Literal, f: Field) -> SalesforceError:
    if f.type in STRING_TYPES or f.type in ID_TYPES:
        wanted, quoting = "string", "should be enclosed in quotes"
    else:
        wanted = {
            "datetime": "dateTime",
            "int": "double",
            "currency": "double",
            "percent": "double",
        }.get(f.type, f.type)
        quoting = "should not be enclosed in quotes"
    return query_error(
        "INVALID_FIELD",
        query.text,
        lit.pos,
        f"value of filter criterion for field '{ref.path[-1]}' must be of type "
        f"{wanted} and {quoting}",
    )


def _keyword_range(keyword: str, n: int, now: datetime) -> tuple[datetime, datetime]:
    """A date keyword as a half-open datetime range in UTC (the sandbox user's zone)."""
    today = datetime.combine(now.date(), time(), tzinfo=now.tzinfo)
    day = timedelta(days=1)
    ranges = {
        "TODAY": (today, today + day),
        "YESTERDAY": (today - day, today),
        "TOMORROW": (today + day, today + 2 * day),
        "LAST_N_DAYS": (today - n * day, today + day),
        "NEXT_N_DAYS": (today + day, today + (n + 1) * day),
    }
    return ranges[keyword]


def _typed_value(query: Query, ref: FieldRef, f: Field, lit: Literal, now: datetime) -> Any:
    """Check a literal against the field's type and return the comparable value."""
    if lit.kind == "null":
        return None
    if f.type in ID_TYPES or f.type in STRING_TYPES:
        return _text_value(query, ref, f, lit)
    if f.type == "boolean" and lit.kind == "boolean":
        return lit.value
    if f.type in NUMBER_TYPES and lit.kind == "number":
        return lit.value
    if f.type in ("datetime", "date") and lit.kind == "date_keyword":
        start, end = _keyword_range(lit.value[0], lit.value[1], now)
        return (start, end) if f.type == "datetime" else (start.date(), end.date())
    if f.type == "datetime" and lit.kind == "datetime":
        return parse_datetime(lit.text)
    if f.type == "date" and lit.kind == "date":
        parsed = parse_date(lit.text)
        if parsed is not None:
            return parsed
    raise _type_error(query, ref, lit, f)


def _text_value(query: Query, ref: FieldRef, f: Field, lit: Literal) -> str:
    """Ids are validated and made canonical; text is folded (SOQL compares case-insensitively)."""
    if lit.kind != "string":
        raise _type_error(query, ref, lit, f)
    if f.type in STRING_TYPES:
        return str(lit.value).replace("\\%", "%").replace("\\_", "_").casefold()
    canonical = normalize_id(lit.value)
    if canonical is None:
        raise query_error(
            "INVALID_QUERY_FILTER_OPERATOR", query.text, lit.pos, f"invalid ID field: {lit.value}"
        )
    return canonical


def _like_matcher(pattern: str) -> Callable[[Any], bool]:
    parts = re.split(r"(\\%|\\_|%|_)", pattern)
    regex = "".join(
        {"%": ".*", "_": ".", "\\%": "%", "\\_": "_"}.get(p, re.escape(p)) for p in parts
    )
    compiled = re.compile(regex, re.IGNORECASE | re.DOTALL)
    return lambda v: v is not None and compiled.fullmatch(str(v)) is not None


def _compare(op: str, value: Any, getter: Getter, fold: bool) -> Predicate:
    """Build a predicate for a scalar comparison with SOQL's null semantics."""

    def get(rec: Record) -> Any:
        v = getter(rec)
        return v.casefold() if fold and isinstance(v, str) else v

    if isinstance(value, tuple):  # a date range from TODAY, LAST_N_DAYS:n ...
        start, end = value
        ranged = {
            "=": lambda v: v is not None and start <= v < end,
            "!=": lambda v: v is None or not start <= v < end,
            "<": lambda v: v is not None and v < start,
            "<=": lambda v: v is not None and v < end,
            ">": lambda v: v is not None and v >= end,
            ">=": lambda v: v is not None and v >= start,
        }[op]
        return lambda rec: ranged(get(rec))
    if op == "=":
        return lambda rec: get(rec) == value
    if op == "!=":
        return lambda rec: get(rec) != value
    if value is None:
        return lambda rec: False
    ops: dict[str, Callable[[Any], bool]] = {
        "<": lambda v: v < value,
        "<=": lambda v: v <= value,
        ">": lambda v: v > value,
        ">=": lambda v: v >= value,
    }
    check = ops[op]
    return lambda rec: (v := get(rec)) is not None and check(v)


def compile_condition(
    query: Query, store: Store, sobject: SObjectType, cond: Condition, now: datetime
) -> Predicate:
    """Compile a condition tree into one predicate over stored records."""
    if isinstance(cond, BoolOp):
        parts = [compile_condition(query, store, sobject, c, now) for c in cond.items]
        if cond.op == "AND":
            return lambda rec: all(p(rec) for p in parts)
        return lambda rec: any(p(rec) for p in parts)
    if isinstance(cond, Not):
        inner = compile_condition(query, store, sobject, cond.item, now)
        return lambda rec: not inner(rec)
    return _compile_comparison(query, store, sobject, cond, now)


def _compile_comparison(
    query: Query, store: Store, sobject: SObjectType, cond: Comparison, now: datetime
) -> Predicate:
    column = resolve_column(query, store, sobject, cond.field)
    f = column.field
    if not f.filterable:
        raise query_error(
            "INVALID_FIELD",
            query.text,
            cond.field.pos,
            f"field '{f.name}' can not be filtered in a query call",
        )
    fold = f.type in STRING_TYPES
    if cond.op in ("IN", "NOT IN"):
        assert isinstance(cond.value, tuple)
        values = {_typed_value(query, cond.field, f, lit, now) for lit in cond.value}
        getter = column.getter

        def member(rec: Record) -> bool:
            return (getter(rec).casefold() if fold and getter(rec) else getter(rec)) in values

        return member if cond.op == "IN" else (lambda rec: not member(rec))
    assert isinstance(cond.value, Literal)
    if cond.op == "LIKE":
        if not fold or cond.value.kind != "string":
            raise query_error(
                "INVALID_FIELD", query.text, cond.field.pos, f"invalid operator on field '{f.name}'"
            )
        matches = _like_matcher(cond.value.value)
        getter = column.getter
        return lambda rec: matches(getter(rec))
    value = _typed_value(query, cond.field, f, cond.value, now)
    return _compare(cond.op, value, column.getter, fold)


# -- ordering and execution ------------------------------------------------------------------
def _sort(query: Query, store: Store, sobject: SObjectType, rows: list[Record]) -> list[Record]:
    for item in reversed(query.order_by):
        column = resolve_column(query, store, sobject, item.field)
        if not column.field.sortable:
            raise query_error(
                "INVALID_FIELD",
                query.text,
                item.field.pos,
                f"field '{column.field.name}' can not be sorted in a query call",
            )
        getter = column.getter
        present = [r for r in rows if getter(r) is not None]
        nulls = [r for r in rows if getter(r) is None]

        def key(
            rec: Record, getter: Getter = getter, fold: bool = column.field.type in STRING_TYPES
        ) -> Any:
            v = getter(rec)
            return v.casefold() if fold and isinstance(v, str) else v

        present.sort(key=key, reverse=item.descending)
        rows = present + nulls if item.nulls_last else nulls + present
    return rows


def plan(query: Query, store: Store, *, include_deleted: bool) -> Plan:
    """Resolve and run ``query``; the caller holds no lock, this takes the store's lock."""
    sobject = store.type_named(query.object_name)
    if sobject is None:
        raise query_error(
            "INVALID_TYPE",
            query.text,
            query.object_pos,
            f"sObject type '{query.object_name}' is not supported. If you are attempting to "
            "use a custom object, be sure to append the '__c' after the entity name. Please "
            "reference your WSDL or the describe call for the appropriate names.",
        )
    if not sobject.queryable:
        raise SalesforceError(
            400, "INVALID_TYPE_FOR_OPERATION", f"entity type {sobject.name} does not support query"
        )
    columns = None if query.fields is None else _columns(query, store, sobject)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise SalesforceError(
            400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}"
        )
    with store.lock:
        now = store.now()
        predicate = (
            compile_condition(query, store, sobject, query.where, now)
            if query.where is not None
            else None
        )
        rows = [
            r
            for r in store.records[sobject.name].values()
            if (include_deleted or not r.get("IsDeleted")) and (predicate is None or predicate(r))
        ]
        rows = _sort(query, store, sobject, rows)
    start = query.offset or 0
    end = None if query.limit is None else start + query.limit
    return Plan(sobject, columns, [r["Id"] for r in rows[start:end]])


def _columns(query: Query, store: Store, sobject: SObjectType) -> list[Column]:
    columns: list[Column] = []
    seen: set[tuple[str, ...]] = set()
    assert query.fields is not None
    for ref in query.fields:
        column = resolve_column(query, store, sobject, ref)
        if column.path in seen:
            raise query_error(
                "MALFORMED_QUERY",
                query.text,
                ref.pos,
                f"duplicate field selected: {'.'.join(ref.path)}",
            )
        seen.add(column.path)
        columns.append(column)
    return columns
