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
    data = {"id": "r-1", "first_name": "Ana", "last_name": "Lima", "company": company}
    data["emails"] = [email]
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
