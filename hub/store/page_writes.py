"""The page path's writes (hub/store/bulk.py): new and changed contacts, source
records, identifiers, links and the candidate queue rows of a page.

SQLite: the driver's executemany, one statement per kind of row
(hub/store/sqlite_rows.py). PostgreSQL: the whole page as one statement of
data-modifying ``WITH`` parts, each a JSON document (hub/store/rowsets.py), one round
trip whatever the page's size.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from hub.identity.candidate_queue import REQUEUE, enqueue, queue_rows
from hub.store.models import CandidateQueueEntry, Contact, Identifier, IdentityLink, SourceRecord
from hub.store.page_view import ContactState
from hub.store.rowsets import insert_sql, rows_document, update_sql
from hub.store.sqlite_rows import insert_many, update_many


def write_page(
    session: Session,
    contacts: dict[str, ContactState],
    now: datetime,
    new_records: list[dict[str, Any]],
    updated_records: list[dict[str, Any]],
    new_identifiers: list[dict[str, Any]],
    links: list[dict[str, Any]],
    queued: list[str],
) -> None:
    fresh = [
        {
            "id": cid,
            **s.columns,
            "attributes": s.attributes,
            "lineage": s.lineage,
            "merged_into_id": None,
            "created_at": now,
            "updated_at": now,
        }
        for cid, s in contacts.items()
        if s.new
    ]
    touched = [
        {
            "b_id": cid,
            **s.columns,
            "attributes": s.attributes,
            "lineage": s.lineage,
            "updated_at": now,
        }
        for cid, s in contacts.items()
        if not s.new and s.dirty()
    ]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        _write_pg(
            session,
            new_contacts=fresh,
            contacts=touched,
            new_records=new_records,
            records=updated_records,
            new_identifiers=new_identifiers,
            links=links,
            queue=queue_rows(queued),
        )
        return
    # The driver's executemany, one statement per kind of row (hub/store/sqlite_rows.py:
    # SQLAlchemy's Core executemany cost more per row than SQLite does).
    if fresh:
        _insert(session, "new_contacts", fresh)
    if touched:
        update_many(session, _UPDATES["contacts"][0], touched, key="b_id")
    if new_records:
        _insert(session, "new_records", new_records)
    if updated_records:
        rows = [{**r, "deleted_at": None} for r in updated_records]
        update_many(session, _UPDATES["records"][0], rows, key="b_id")
    if new_identifiers:
        _insert(session, "new_identifiers", new_identifiers)
    if links:
        _insert(session, "links", links)
    enqueue(session, queued)


def _write_pg(session: Session, **parts: list[dict[str, Any]]) -> None:
    """PostgreSQL: the page's writes as one statement, one round trip (each part a JSON
    document, hub/store/rowsets.py; the parts as data-modifying ``WITH`` queries, in
    the order of the SQLite path). Foreign keys are checked at the end of the
    statement, so a record may name a contact inserted beside it."""
    shape: list[tuple[str, tuple[str, ...]]] = []
    params: dict[str, str] = {}
    for name, rows in parts.items():
        if not rows:
            continue
        table = (_INSERTS.get(name) or _UPDATES.get(name) or _UPSERTS[name])[0]
        if name in _UPDATES:  # one row per id, the last as with executemany
            rows = list({r["b_id"]: r for r in rows}.values())
            rows = [{"id": r["b_id"], **{k: v for k, v in r.items() if k != "b_id"}} for r in rows]
            if name == "records":
                rows = [{**r, "deleted_at": None} for r in rows]
        columns, params[name] = rows_document(table, rows, defaults=name not in _UPDATES)
        shape.append((name, columns))
    if shape:
        session.execute(_pg_write_statement(tuple(shape)), params)


@lru_cache(maxsize=128)
def _pg_write_statement(shape: tuple[tuple[str, tuple[str, ...]], ...]) -> TextClause:
    """The statement :func:`_write_pg` sends for these parts and columns, built once."""
    parts = []
    for name, columns in shape:
        if name in _UPDATES:
            parts.append(update_sql(_UPDATES[name][0], columns, "id", name))
        elif name in _UPSERTS:
            table, action = _UPSERTS[name]
            parts.append(f"{insert_sql(table, columns, (), name)} {action}")
        else:
            table, conflict = _INSERTS[name]
            parts.append(insert_sql(table, columns, conflict, name))
    first = ", ".join(f"w{i} AS ({part})" for i, part in enumerate(parts[:-1]))
    return text(f"WITH {first} {parts[-1]}" if first else parts[-1])


#: The page's inserts: table, and the unique columns that decide a conflict.
_INSERTS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "new_contacts": (Contact.__table__, ()),
    "new_records": (SourceRecord.__table__, ()),
    # The page read at most K + 1 holders of a crowded value (see Page), so a
    # contact may already hold a key the page believes new: the unique key decides.
    "new_identifiers": (Identifier.__table__, ("kind", "value", "contact_id")),
    "links": (IdentityLink.__table__, ()),
}
#: Upserts on PostgreSQL: table, and the ON CONFLICT clause. The candidate queue rows
#: travel with the page's writes (SQLite: :func:`hub.identity.candidate_queue.enqueue`
#: after them), one round trip fewer per page and per single record.
_UPSERTS: dict[str, tuple[Any, str]] = {"queue": (CandidateQueueEntry.__table__, REQUEUE)}
#: The page's updates on PostgreSQL (see :func:`_write_pg`): table, and key.
_UPDATES: dict[str, tuple[Any, str]] = {
    "contacts": (Contact.__table__, "id"),
    "records": (SourceRecord.__table__, "id"),
}


def _insert(session: Session, name: str, rows: list[dict[str, Any]]) -> None:
    """Insert a page's rows on SQLite (PostgreSQL writes the page in one statement,
    :func:`_write_pg`)."""
    table, conflict = _INSERTS[name]
    insert_many(session, table, rows, skip_conflicts_on=conflict)
