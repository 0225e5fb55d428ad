"""The page path's writes (hub/store/bulk.py): on PostgreSQL one statement for the
whole page; a record the store holds that comes twice in one page keeps the later
version, as with the per-record path."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from hub.plugin import SourceRecord
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import Contact, Identifier
from hub.store.models import SourceRecord as SourceRow

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def record(company: str, minutes: int, email: str = "ana@example.com") -> SourceRecord:
    data: dict[str, object] = {"id": "r-1", "first_name": "Ana", "last_name": "Lima"}
    data.update(company=company, emails=[email])
    return SourceRecord("contact", "r-1", data, BASE + timedelta(minutes=minutes))


def test_a_stored_record_twice_in_a_page_keeps_its_later_version(runtime: Runtime) -> None:
    connector = runtime.connectors["events"]
    with transaction(runtime.sessions) as session:
        runtime.pipeline.apply(session, connector, [record("Acme", 0)])
    page = [record("Globex", 5, "ana@work.example"), record("Initech", 9)]
    with transaction(runtime.sessions) as session:
        changed = runtime.pipeline.apply(session, connector, page)
    assert changed.changed == 2
    with runtime.read_sessions() as session:
        rows = session.execute(select(SourceRow.snapshot, SourceRow.source_updated_at)).all()
        assert [(r.snapshot["company"], r.source_updated_at) for r in rows] == [
            ("Initech", BASE + timedelta(minutes=9))
        ]
        contacts = session.scalars(select(Contact)).all()
        assert [c.company for c in contacts] == ["Initech"]
        emails = session.scalars(select(Identifier.value).where(Identifier.kind == "email"))
        assert sorted(emails) == ["ana@example.com", "ana@work.example"]


def test_the_driver_executemany_stores_what_core_stores(runtime: Runtime) -> None:
    """SQLite's page writes bypass SQLAlchemy's executemany (hub/store/sqlite_rows.py):
    the text stored (times, JSON) must be byte for byte what Core's insert and update
    store, or comparisons and orderings on those columns would change."""
    if runtime.engine.dialect.name != "sqlite":
        return  # PostgreSQL writes the page as one statement (tested above)
    from zoneinfo import ZoneInfo

    from sqlalchemy import Table, bindparam, insert, text, update

    from hub.store.sqlite_rows import insert_many, update_many

    table: Table = Contact.__table__  # type: ignore[assignment]
    later = BASE + timedelta(days=3, microseconds=7)
    paris = datetime(2026, 1, 1, 12, 30, tzinfo=UTC).astimezone(ZoneInfo("Europe/Paris"))

    def row(cid: str) -> dict[str, object]:
        return {
            "id": cid,
            **dict.fromkeys(("display_name", "first_name", "company", "language", "tier")),
            "last_name": "Lima",
            "attributes": {"vip": True, "tags": ["a", "é"]},
            "lineage": {},
            "merged_into_id": None,
            "created_at": BASE,
            "updated_at": paris,
        }

    with transaction(runtime.sessions) as session:
        session.execute(insert(table), [row("core-1"), row("core-2")])
        insert_many(session, table, [row("raw-1"), row("raw-2")])
        change = {"first_name": "Ana", "lineage": {"first_name": ["x"]}, "updated_at": later}
        session.execute(
            update(table).where(table.c.id == bindparam("b_id")),
            [{"b_id": "core-2", **change}],
        )
        update_many(session, table, [{"b_id": "raw-2", **change}], key="b_id")
    with runtime.engine.connect() as conn:
        stored = {r[0]: r[1:] for r in conn.execute(text("SELECT * FROM contacts ORDER BY id"))}
    assert stored["core-1"] == stored["raw-1"]
    assert stored["core-2"] == stored["raw-2"]
    assert stored["core-1"] != stored["core-2"]
