"""Deterministic, real-time identity resolution.

Order of evidence: the source record's own link (``record:<connector>:<type>``; the
same Salesforce Contact is always the same customer), then namespaced keys
(``key:customer_number``), then e-mail, then phone. A value that is junk
(``test@test.com``, ``0000000``) or already held by more than one contact (a
switchboard, info@) is ambiguous and never joins records. This module links; it never
merges two existing contacts (merges are explicit, explainable and reversible).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, func, select, tuple_, union_all
from sqlalchemy.orm import Session

from hub.identity.keylocks import lock_identifiers as lock_identifiers  # callers import it here
from hub.identity.rules import (
    DEFAULT_RULES,
    IdentityRules,
    name_guard_refuses,
    names_of,
    over_limit,
)
from hub.store.models import Contact, Identifier, new_contact_id
from hub.store.rowsets import among_param

KIND_PRIORITY = ("record:", "key:", "email", "phone")
EXCLUSIVE_PREFIX = "record:"
UNRESOLVED_PREFIX = "unresolved:"
NAME_COLUMNS = ("first_name", "last_name", "display_name")


@dataclass
class Resolution:
    """The contact chosen, and why (kept for the merge explanation and lineage)."""

    contact: Contact
    created: bool
    matched_on: tuple[str, str] | None = None
    ambiguous: list[tuple[str, str]] = field(default_factory=list)
    #: Keys the caller must index on the new contact (the "unresolved" marker).
    extra_keys: list[tuple[str, str]] = field(default_factory=list)
    #: The keys as resolution used them (normalised, junk removed): what to index.
    keys: list[tuple[str, str]] = field(default_factory=list)
    #: The live holders of each key, as resolution saw them.
    holders: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def _rank(kind: str, rules: IdentityRules = DEFAULT_RULES) -> int:
    return rules.rank(kind)


def is_junk(kind: str, value: str, rules: IdentityRules = DEFAULT_RULES) -> bool:
    """Placeholder values that must never identify anyone (``test@test.com``, ``0000000``)."""
    return rules.is_junk(kind, value)


def find_contacts(
    session: Session, kind: str, value: str, rules: IdentityRules = DEFAULT_RULES
) -> list[str]:
    """Ids of live contacts holding ``kind:value`` (merged ones follow their survivor).

    The value is folded like stored keys (national phone variants), so a lookup by
    ``+55 11 8765-4321`` finds the contact indexed under ``+55 11 98765-4321``.
    """
    key = rules.normalise(kind, value)
    return holders_by_key(session, [key]).get(key, [])


def identifier_rows(
    session: Session, keys: Iterable[tuple[str, str]], *, cap: int | None = None
) -> list[tuple[str, str, str, str | None]]:
    """``(kind, value, contact_id, merged_into_id)`` of every identifier row holding one
    of ``keys``, in one round trip; with ``cap``, at most that many rows per key (the
    first by contact id).

    One select per kind (``kind = :k AND value IN (...)``), sent as one UNION ALL: a
    row-value IN list makes SQLite scan the identifiers when it has no statistics yet
    (a fresh store) and PostgreSQL plan hundreds of OR branches. The cap is for
    resolution, which only needs to know that a value has more than K holders (see
    :func:`crowded`): a switchboard number gains holders as the store grows, and
    reading (then loading) all of them made each write slower than the last."""
    dialect = session.get_bind().dialect.name
    params, shape = identifier_parameters(keys, dialect)
    if not params:
        return []
    statement = _rows_statement(shape, cap, dialect)
    return [(k, v, c, m) for k, v, c, m in session.execute(statement, params)]


def identifier_parameters(
    keys: Iterable[tuple[str, str]], dialect: str
) -> tuple[dict[str, Any], tuple[bool, ...]]:
    """The parameters of :func:`identifier_rows_statement` for ``keys`` (``kind_<i>``
    and ``values_<i>`` per kind; ``{}``: no keys) and the statement's shape: per kind,
    whether its one value is sent alone (PostgreSQL, see :func:`_rows_statement`)."""
    by_kind: dict[str, list[str]] = {}
    for kind, value in dict.fromkeys(keys):
        by_kind.setdefault(kind, []).append(value)
    params: dict[str, Any] = {}
    shape = []
    for i, (kind, values) in enumerate(by_kind.items()):
        alone = dialect == "postgresql" and len(values) == 1
        params[f"kind_{i}"], params[f"values_{i}"] = kind, values[0] if alone else values
        shape.append(alone)
    return params, tuple(shape)


def identifier_rows_statement(shape: tuple[bool, ...], cap: int | None, dialect: str) -> Any:
    """The select of :func:`identifier_rows` for keys of this shape (see
    :func:`identifier_parameters`; columns ``kind``, ``value``, ``contact_id``,
    ``merged_into_id``), for callers that send it inside a larger statement
    (hub/store/bulk.py)."""
    return _rows_statement(shape, cap, dialect)


@lru_cache(maxsize=32)
def _rows_statement(shape: tuple[bool, ...], cap: int | None, dialect: str) -> Any:
    """The statement :func:`identifier_rows` sends for ``len(shape)`` kinds, built
    once: building it per call cost more than running it (about 1 ms for one record).
    On PostgreSQL each list is one array parameter, so the text is the same whatever
    the number of values and psycopg prepares it (see hub/store/rowsets.py); a list of
    one value (``shape``) is compared as one value: the planner prices ``= ANY($1)``
    as ten lookups, so a prepared statement that mostly sees one value never settles
    on its generic plan and is planned again at every execution
    (:func:`hub.store.rowsets.among_param`)."""
    kinds = len(shape)
    identifiers: Table = Identifier.__table__  # type: ignore[assignment]
    contacts: Table = Contact.__table__  # type: ignore[assignment]
    kind, value, holder = identifiers.c.kind, identifiers.c.value, identifiers.c.contact_id

    def where(i: int) -> Any:
        values = among_param(value, f"values_{i}", dialect, alone=shape[i])
        return (kind == bindparam(f"kind_{i}")) & values

    if cap is None:
        selects = [
            select(kind, value, holder, contacts.c.merged_into_id)
            .join(contacts, contacts.c.id == holder)
            .where(where(i))
            for i in range(kinds)
        ]
        return selects[0] if kinds == 1 else union_all(*selects)
    number = func.row_number().over(partition_by=(kind, value), order_by=holder)
    numbered = [
        select(kind, value, holder, number.label("n")).where(where(i)) for i in range(kinds)
    ]
    rows = (numbered[0] if kinds == 1 else union_all(*numbered)).subquery()
    return (
        select(rows.c.kind, rows.c.value, rows.c.contact_id, contacts.c.merged_into_id)
        .join(contacts, contacts.c.id == rows.c.contact_id)
        .where(rows.c.n <= cap)
    )


def holders_by_key(
    session: Session, keys: Sequence[tuple[str, str]], *, cap: int | None = None
) -> dict[tuple[str, str], list[str]]:
    """For each key, the live contacts holding it, in one query (``cap``: see
    :func:`identifier_rows`)."""
    found: dict[tuple[str, str], set[str]] = {}
    for kind, value, contact, merged in identifier_rows(session, keys, cap=cap):
        found.setdefault((kind, value), set()).add(merged or contact)
    return {key: sorted(ids) for key, ids in found.items()}


def crowded(holders: Sequence[str] | set[str], rules: IdentityRules) -> bool:
    """Whether a value's holders make it ambiguous whoever else they are: held by more
    than K contacts (``max_contacts_per_value``: a switchboard, info@), it never links a
    contact record, even when the per-kind limits rule all holders but one out.

    Resolution reads at most K + 1 holders of a value (``cap`` above), so its work per
    record stays flat however many contacts share a switchboard number. Interactions
    (``reuse_unresolved``) still read every holder: hub/store/batch.py mirrors them."""
    return len(holders) > rules.max_contacts_per_value


def held_values(
    session: Session, contact_ids: Iterable[str], kinds: Iterable[str]
) -> dict[str, dict[str, set[str]]]:
    """For each contact, the values it holds of each of ``kinds``."""
    ids, wanted = list(set(contact_ids)), list(set(kinds))
    held: dict[str, dict[str, set[str]]] = {c: {} for c in ids}
    if not ids or not wanted:
        return held
    for contact, kind, value in session.execute(
        select(Identifier.contact_id, Identifier.kind, Identifier.value).where(
            Identifier.contact_id.in_(ids), Identifier.kind.in_(wanted)
        )
    ):
        held[contact].setdefault(kind, set()).add(value)
    return held


def _conflicted(
    session: Session, contact_ids: set[str], keys: Sequence[tuple[str, str]], rules: IdentityRules
) -> set[str]:
    """Contacts the record may not join: its values would break a per-kind limit.

    By default a contact holds at most one record of each (connector, object type):
    two records the source itself keeps apart are two people, whatever phone they
    share (the limit Segment's identity rules express as "max 1 user_id").
    """
    limited = [(k, v) for k, v in keys if rules.limit(k) is not None]
    if not limited or not contact_ids:
        return set()
    held = held_values(session, contact_ids, {k for k, _ in limited})
    return {c for c in contact_ids if over_limit(rules, held.get(c, {}), limited)}


def resolve_contact(
    session: Session,
    keys: Sequence[tuple[str, str]],
    *,
    reuse_unresolved: bool = False,
    rules: IdentityRules = DEFAULT_RULES,
    fields: Mapping[str, Any] | None = None,
) -> Resolution:
    """Find the contact these identifiers point at, or create one.

    Args:
        keys: ``(kind, normalised value)`` pairs from the mapped record.
        reuse_unresolved: for interactions: when the only evidence is ambiguous (a
            switchboard number held by several people), file the interaction under
            one "unresolved" contact per value instead of a new contact per call.
        rules: priority, limits, block-lists (``hub.identity`` in the config).
        fields: the record's mapped fields, for the name guard (contact records).
    """
    named = names_of(fields) if fields else None
    usable = rules.usable(list(keys))
    lock_identifiers(session, usable)
    markers = [(UNRESOLVED_PREFIX + k, v) for k, v in usable] if reuse_unresolved else []
    cap = None if reuse_unresolved else rules.max_contacts_per_value + 1
    holders = holders_by_key(session, [*usable, *markers], cap=cap)
    conflicted = _conflicted(
        session, {c for k in usable for c in holders.get(k, [])}, usable, rules
    )
    ambiguous: list[tuple[str, str]] = []
    for key in sorted(usable, key=lambda kv: rules.rank(kv[0])):
        if cap is not None and crowded(holders.get(key, []), rules):
            ambiguous.append(key)
            continue
        candidates = [h for h in holders.get(key, []) if h not in conflicted]
        if len(candidates) == 1:
            contact = session.get(Contact, candidates[0])
            if contact is not None and name_guard_refuses(
                rules, key[0], named, {c: getattr(contact, c) for c in NAME_COLUMNS}
            ):
                continue
            if contact is not None:
                return Resolution(
                    contact,
                    created=False,
                    matched_on=key,
                    ambiguous=ambiguous,
                    keys=usable,
                    holders=holders,
                )
        elif len(candidates) > 1:
            ambiguous.append(key)
    extra: list[tuple[str, str]] = []
    if reuse_unresolved and ambiguous:
        marker = (UNRESOLVED_PREFIX + ambiguous[0][0], ambiguous[0][1])
        stub = holders.get(marker, [])
        if stub and (contact := session.get(Contact, stub[0])) is not None:
            return Resolution(
                contact, created=False, matched_on=marker, ambiguous=ambiguous, keys=usable
            )
        extra.append(marker)
    contact = Contact(id=new_contact_id(), attributes={}, lineage={})
    session.add(contact)
    return Resolution(contact, created=True, ambiguous=ambiguous, extra_keys=extra, keys=usable)


def attach_identifiers(
    session: Session,
    contact: Contact,
    keys: Iterable[tuple[str, str]],
    *,
    connector: str,
    new_contact: bool = False,
    rules: IdentityRules = DEFAULT_RULES,
) -> None:
    """Index ``keys`` under ``contact`` (idempotent; junk values are skipped).

    One query reads what the contact already holds (none for a contact created in this
    transaction), then the missing keys are added; the caller flushes.
    """
    wanted = rules.usable(list(keys))
    if not wanted:
        return
    held: set[tuple[str, str]] = set()
    if not new_contact:
        held = {
            (kind, value)
            for kind, value in session.execute(
                select(Identifier.kind, Identifier.value).where(
                    Identifier.contact_id == contact.id,
                    tuple_(Identifier.kind, Identifier.value).in_(wanted),
                )
            )
        }
    session.add_all(
        Identifier(kind=kind, value=value, contact_id=contact.id, source_connector=connector)
        for kind, value in wanted
        if (kind, value) not in held
    )
