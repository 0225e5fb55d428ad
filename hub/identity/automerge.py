"""Deterministic automatic merges: one record, two existing contacts.

When a record joins contact A (by its Salesforce id, say) and carries another strong
key (``hub.identity.auto_merge.strong_kinds``: by default record links, ``key:*`` and
e-mail) that exactly one *other* contact B holds, the two are one person: B merges
into A through :func:`hub.identity.merge.merge_contacts` (rule ``deterministic``,
the two keys as evidence, score 1.0), so ``explain`` shows it and ``unmerge`` undoes
it. Protection first: a value held by more than one contact is ambiguous and merges
nobody; a merge that would break a per-kind limit (two records one source keeps
apart) is refused; so is one whose names disagree (the name guard, applied to the
record's name and to both contacts' names whatever the key's kind).

:func:`merge_targets` decides from plain data, so the per-record path (here) and the
bulk page path (hub/store/bulk.py) decide alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.identity.rules import IdentityRules, names_of, over_limit
from hub.identity.similarity import name_similarity
from hub.store.models import Contact, Identifier

Key = tuple[str, str]
NAME_COLUMNS = ("first_name", "last_name", "display_name")


def limited_held(
    session: Session, ids: Sequence[str], rules: IdentityRules
) -> dict[str, dict[str, set[str]]]:
    """For each contact, the values it holds of every limited kind."""
    held: dict[str, dict[str, set[str]]] = {c: {} for c in ids}
    patterns = rules.limited_prefixes()
    if not ids or not patterns:
        return held
    for cid, kind, value in session.execute(
        select(Identifier.contact_id, Identifier.kind, Identifier.value).where(
            Identifier.contact_id.in_(list(ids)),
            or_(*(Identifier.kind.like(p) for p in patterns)),
        )
    ):
        if rules.limit(kind) is not None:
            held[cid].setdefault(kind, set()).add(value)
    return held


def limits_allow(
    held_a: Mapping[str, set[str]], held_b: Mapping[str, set[str]], rules: IdentityRules
) -> bool:
    """Whether one contact may hold what both hold (per-kind limits): two records one
    source keeps apart are two people."""
    keys = [(k, v) for k, values in held_b.items() for v in values]
    return not over_limit(rules, dict(held_a), keys)


def _names_disagree(
    rules: IdentityRules, a: tuple[str, str] | None, b: tuple[str, str] | None
) -> bool:
    if rules.name_guard is None or a is None or b is None:
        return False
    return name_similarity(a[0], a[1], b[0], b[1]) < rules.name_guard


def merge_targets(
    rules: IdentityRules,
    contact_id: str,
    keys: Sequence[Key],
    record_fields: Mapping[str, Any],
    *,
    holders: Callable[[Key], Sequence[str]],
    fields_of: Callable[[str], Mapping[str, Any]],
    held_of: Callable[[str], Mapping[str, set[str]]],
) -> list[tuple[str, Key]]:
    """The contacts to merge into ``contact_id`` (which the record joined), each with
    the key that names it: ``[(other contact, (kind, value))]``, in priority order."""
    if not rules.auto_merge.deterministic:
        return []
    named = names_of(record_fields)
    mine = names_of(fields_of(contact_id))
    held = {k: set(v) for k, v in held_of(contact_id).items()}
    for kind, value in keys:
        if rules.limit(kind) is not None:
            held.setdefault(kind, set()).add(value)
    out: list[tuple[str, Key]] = []
    for key in sorted(keys, key=lambda kv: rules.rank(kv[0])):
        if not rules.auto_merge.strong(key[0]):
            continue
        if key[0] == "email" and rules.auto_merge.is_role_email(key[1]):
            continue
        found = list(holders(key))
        if len(found) != 1 or found[0] == contact_id or found[0] in {o for o, _ in out}:
            continue
        other = found[0]
        theirs = names_of(fields_of(other))
        if _names_disagree(rules, named, theirs) or _names_disagree(rules, mine, theirs):
            continue
        their_held = held_of(other)
        if not limits_allow(held, their_held, rules):
            continue
        for kind, values in their_held.items():
            held.setdefault(kind, set()).update(values)
        out.append((other, key))
    return out


def merge_on_keys(
    session: Session,
    contact: Contact,
    keys: Sequence[Key],
    record_fields: Mapping[str, Any],
    *,
    matched_on: Key | None,
    record: tuple[str, str, str],
    rules: IdentityRules,
    holders: Mapping[Key, list[str]] | None = None,
) -> list[int]:
    """Merge into ``contact`` every contact :func:`merge_targets` names (the
    per-record path); returns the merge ids. ``holders``: the keys' live holders
    when the caller has them (resolution read them a moment ago)."""
    from hub.identity.merge import merge_contacts
    from hub.identity.resolve import holders_by_key, lock_identifiers

    strong = [k for k in keys if rules.auto_merge.strong(k[0])]
    if not rules.auto_merge.deterministic or not strong:
        return []
    found = (
        {k: holders.get(k, []) for k in strong}
        if holders is not None
        else holders_by_key(session, strong)
    )
    others = {c for k in strong for c in found.get(k, []) if c != contact.id}
    if not others:
        return []
    held = limited_held(session, [contact.id, *sorted(others)], rules)

    def fields_of(cid: str) -> dict[str, Any]:
        row = contact if cid == contact.id else session.get(Contact, cid)
        return {c: getattr(row, c) for c in NAME_COLUMNS} if row is not None else {}

    targets = merge_targets(
        rules,
        contact.id,
        strong,
        record_fields,
        holders=lambda k: found.get(k, []),
        fields_of=fields_of,
        held_of=lambda c: held.get(c, {}),
    )
    if not targets:
        return []
    lock_identifiers(
        session, [("contact", c) for c in sorted({contact.id, *(t for t, _ in targets)})]
    )
    connector, object_type, external_id = record
    ids = []
    for other, key in targets:
        evidence = [
            {"kind": key[0], "value": key[1], "contact": other, "role": "merged"},
            {
                "kind": f"record:{connector}:{object_type}",
                "value": external_id,
                "contact": contact.id,
                "role": "record",
            },
        ]
        if matched_on is not None:
            evidence.insert(
                0,
                {"kind": matched_on[0], "value": matched_on[1], "contact": contact.id,
                 "role": "survivor"},
            )  # fmt: skip
        merge = merge_contacts(
            session,
            contact.id,
            other,
            rule="deterministic",
            actor=f"connector:{connector}",
            evidence=evidence,
            score=1.0,
        )
        ids.append(merge.id)
    return ids
