"""Write a page of contact source records with a handful of statements.

Backfills and pull streams hand the hub pages of hundreds of records; going through
the per-record ORM path costs a dozen round trips each. This path reads everything
it needs for the page in a few queries (hub/store/page_view.py), resolves identities
in memory (including records of the same page that share an identifier), and writes
with executemany (SQLite) or one statement for the whole page (PostgreSQL,
hub/store/page_writes.py). Its result is the same as
:func:`hub.store.records.upsert_contact_record` applied record by record, in order (a
test holds the two paths to that).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from hub.identity.automerge import merge_targets
from hub.identity.resolve import crowded
from hub.identity.rules import (
    DEFAULT_RULES,
    IdentityRules,
    name_guard_refuses,
    names_of,
    over_limit,
)
from hub.store.coltypes import utcnow
from hub.store.models import new_contact_id
from hub.store.page_statistics import READ_TABLES, refresh_statistics
from hub.store.page_view import ContactState, Page, PageItem, RecordState
from hub.store.page_writes import write_page
from hub.store.records import snapshot_of, upsert_contact_record
from hub.store.survivorship import CONTACT_COLUMNS, apply_fields

#: Callers import these from here (hub/sync.py, hub/pipeline.py).
__all__ = ["READ_TABLES", "PageItem", "apply_contact_page", "refresh_statistics"]


def _resolve(
    page: Page, keys: list[tuple[str, str]], fields: dict[str, Any]
) -> tuple[str, tuple[str, str] | None, list[tuple[str, str]]]:
    """Same rules as hub.identity.resolve_contact, over the page's in-memory view.

    Returns the contact, the key it matched on (None: new) and the ambiguous keys."""
    rules = page.rules
    named = names_of(fields)
    limited = [(k, v) for k, v in keys if rules.limit(k) is not None]
    ambiguous: list[tuple[str, str]] = []
    for key in sorted(keys, key=lambda kv: rules.rank(kv[0])):
        holders = page.holders(key)
        if crowded(holders, rules):
            ambiguous.append(key)
            continue
        candidates = [
            c
            for c in holders
            if c in page.contacts and not over_limit(rules, page.contacts[c].held, limited)
        ]
        if len(candidates) == 1:
            if name_guard_refuses(rules, key[0], named, page.contacts[candidates[0]].columns):
                continue
            return candidates[0], key, ambiguous
        if len(candidates) > 1:
            ambiguous.append(key)
    contact_id = new_contact_id()
    page.contacts[contact_id] = ContactState(
        columns={c: None for c in CONTACT_COLUMNS}, attributes={}, lineage={}, new=True
    )
    return contact_id, None, ambiguous


def apply_contact_page(
    session: Session,
    *,
    connector: str,
    items: Sequence[PageItem],
    rules: IdentityRules = DEFAULT_RULES,
) -> int:
    """Upsert a page of contact records; returns how many changed the store.

    A record whose keys name two existing contacts (a deterministic merge, see
    hub/identity/automerge.py) is rare: the page is written up to it, that record goes
    through the per-record path (which merges), and the rest of the page follows."""
    changed, rest = 0, list(items)
    while rest:
        done, stop = _apply_part(session, connector, rest, rules)
        changed += done
        if stop is None:
            break
        item = rest[stop]
        session.flush()
        session.expire_all()  # Core writes above bypassed the ORM's identity map
        _, merged = upsert_contact_record(
            session,
            connector=connector,
            object_type=item.object_type,
            external_id=item.external_id,
            mapped=item.mapped,
            updated_at=item.updated_at,
            rules=rules,
        )
        session.flush()
        session.expire_all()
        changed += merged
        rest = rest[stop + 1 :]
    return changed


def _needs_merge(page: Page, contact_id: str, keys: list[tuple[str, str]], item: PageItem) -> bool:
    """Whether the record's keys name a second contact to merge (the per-record path
    does merges; see :func:`apply_contact_page`)."""
    rules = page.rules
    if not rules.auto_merge.deterministic:
        return False
    strong = [k for k in keys if rules.auto_merge.strong(k[0])]
    if not any(set(page.holders(k)) - {contact_id} for k in strong):
        return False

    def fields_of(cid: str) -> dict[str, Any]:
        state = page.contacts.get(cid)
        return dict(state.columns) if state is not None else {}

    def held_of(cid: str) -> dict[str, set[str]]:
        state = page.contacts.get(cid)
        return state.held if state is not None else {}

    return bool(
        merge_targets(
            rules,
            contact_id,
            strong,
            item.mapped.fields,
            holders=page.holders,
            fields_of=fields_of,
            held_of=held_of,
        )
    )


def _apply_part(
    session: Session, connector: str, items: Sequence[PageItem], rules: IdentityRules
) -> tuple[int, int | None]:
    """Apply ``items`` up to the first that needs a merge; returns (changed, its
    index or None)."""
    page = Page(session, connector, items, rules)
    page.load_contacts(
        {r.contact_id for r in page.records.values()} | {c for _, _, c in page.triples}
    )
    now, changed = utcnow(), 0
    new_records: list[dict[str, Any]] = []
    updated_records: list[dict[str, Any]] = []
    new_identifiers: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    touched: list[str] = []
    stop: int | None = None
    for position, item in enumerate(page.items):
        keys = page.keys[id(item)]
        state_key = (item.object_type, item.external_id)
        existing = page.records.get(state_key)
        if (
            existing is not None
            and existing.source_updated_at
            and item.updated_at
            and item.updated_at < existing.source_updated_at
        ):
            continue  # a stale version: keep the newer one
        snapshot = snapshot_of(item.mapped)
        if existing is None:
            contact_id, matched, ambiguous = _resolve(page, keys, item.mapped.fields)
            if matched is not None and _needs_merge(page, contact_id, keys, item):
                stop = position
                break
            links.append(_link(connector, item, contact_id, matched, ambiguous, now))
            row = {
                "connector": connector,
                "object_type": item.object_type,
                "external_id": item.external_id,
                "contact_id": contact_id,
                "source_updated_at": item.updated_at,
                "snapshot": snapshot,
                "deleted_at": None,
                "created_at": now,
                "updated_at": now,
            }
            new_records.append(row)
            page.records[state_key] = RecordState(
                None, contact_id, item.updated_at, snapshot, None, row
            )
            record_changed = True
        else:
            contact_id = page.live(existing.contact_id)
            if _needs_merge(page, contact_id, keys, item):
                stop = position
                break
            record_changed = existing.snapshot != snapshot or existing.deleted_at is not None
            existing.snapshot, existing.source_updated_at = snapshot, item.updated_at
            existing.deleted_at = None
            if existing.row is not None:  # inserted earlier in this page: amend the insert
                existing.row.update(snapshot=snapshot, source_updated_at=item.updated_at)
            else:
                updated_records.append(
                    {
                        "b_id": existing.id,
                        "snapshot": snapshot,
                        "source_updated_at": item.updated_at,
                        "updated_at": now,
                    }
                )
        state = page.contacts[contact_id]
        origin = {
            "connector": connector,
            "object_type": item.object_type,
            "external_id": item.external_id,
            "at": (item.updated_at or now).isoformat(),
        }
        if apply_fields(state.columns, state.attributes, state.lineage, item.mapped.fields, origin):
            state.changed = record_changed = True
        new_identifiers += _index_keys(page, contact_id, keys, now)
        touched.append(contact_id)
        changed += record_changed
    queued = touched if rules.candidates.enabled else []  # scored later, off the write path
    write_page(
        session, page.contacts, now, new_records, updated_records, new_identifiers, links, queued
    )
    return changed, stop


def _index_keys(
    page: Page, contact_id: str, keys: list[tuple[str, str]], now: datetime
) -> list[dict[str, Any]]:
    """Index the record's keys under its contact; returns the identifier rows to insert."""
    state, rows = page.contacts[contact_id], []
    for kind, value in keys:
        if page.index(kind, value, contact_id):
            rows.append(
                {
                    "kind": kind,
                    "value": value,
                    "contact_id": contact_id,
                    "source_connector": page.connector,
                    "created_at": now,
                }
            )
        if page.rules.limit(kind) is not None:
            state.held.setdefault(kind, set()).add(value)
    return rows


def _link(
    connector: str,
    item: PageItem,
    contact_id: str,
    matched: tuple[str, str] | None,
    ambiguous: list[tuple[str, str]],
    now: datetime,
) -> dict[str, Any]:
    return {
        "connector": connector,
        "object_type": item.object_type,
        "external_id": item.external_id,
        "contact_id": contact_id,
        "rule": "matched" if matched else "new",
        "kind": matched[0] if matched else None,
        "value": matched[1] if matched else None,
        "ambiguous": [list(k) for k in ambiguous],
        "linked_at": now,
    }
