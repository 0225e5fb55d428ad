"""Feed contact records through the pipeline and read the store back, for identity tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from hub.identity.candidate_queue import drain as score_candidates
from hub.plugin import SourceRecord
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import Contact, Identifier, Interaction, Journey, Pop
from hub.store.models import SourceRecord as SourceRow

BASE = datetime(2026, 3, 1, tzinfo=UTC)


def person(
    rid: str, first: str | None = None, last: str | None = None, minutes: int = 0, **data: Any
) -> SourceRecord:
    """A standard_webhooks contact record (see mappings/standard_webhooks/contact.yaml)."""
    body = {"id": rid, "first_name": first, "last_name": last, **data}
    return SourceRecord("contact", rid, body, BASE + timedelta(minutes=minutes))


def call(ref: str, phone: str, minutes: int = 5) -> SourceRecord:
    body = {
        "id": ref,
        "channel": "voice",
        "direction": "inbound",
        "occurred_at": (BASE + timedelta(minutes=minutes)).isoformat(),
        "summary": f"call {ref}",
        "contact": {"phone": phone},
    }
    return SourceRecord("interaction", ref, body, BASE + timedelta(minutes=minutes))


def apply(runtime: Runtime, *records: Any, connector: str = "events") -> None:
    """Apply records in one transaction, then score the candidates they queued."""
    with transaction(runtime.sessions) as session:
        runtime.pipeline.apply(session, runtime.connectors[connector], list(records))
    score_candidates(runtime.sessions, runtime.pipeline.identity)


def contact_of(runtime: Runtime, external_id: str) -> str:
    with runtime.read_sessions() as session:
        row = session.scalars(select(SourceRow).where(SourceRow.external_id == external_id)).one()
        return row.contact_id


def live(runtime: Runtime, contact_id: str) -> str:
    from hub.identity.merge import live_id

    with runtime.read_sessions() as session:
        return live_id(session, contact_id)


def store_state(runtime: Runtime) -> dict[str, Any]:
    """Every row merges touch, with ids, as comparable plain data."""
    with runtime.read_sessions() as session:
        return {
            "contacts": sorted(
                (
                    c.id,
                    c.display_name,
                    c.first_name,
                    c.last_name,
                    c.company,
                    repr(sorted(c.attributes.items())),
                    repr(sorted(c.lineage.items())),
                    c.merged_into_id,
                )
                for c in session.scalars(select(Contact))
            ),
            "identifiers": sorted(
                (i.id, i.kind, i.value, i.contact_id, i.source_connector)
                for i in session.scalars(select(Identifier))
            ),
            "records": sorted(
                (r.id, r.external_id, r.contact_id, repr(r.snapshot), r.deleted_at)
                for r in session.scalars(select(SourceRow))
            ),
            "interactions": sorted(
                (i.id, i.contact_id, i.source_ref, i.journey_id)
                for i in session.scalars(select(Interaction))
            ),
            "journeys": sorted((j.id, j.contact_id) for j in session.scalars(select(Journey))),
            "pops": sorted((p.id, p.contact_id) for p in session.scalars(select(Pop))),
        }


def two_sources(make_runtime: Any, **overrides: Any) -> Runtime:
    """A runtime with two standard_webhooks connectors, ``crm`` and ``desk``."""
    from helpers.config import TEST_SECRET

    connectors = [
        {"name": name, "type": "standard_webhooks", "settings": {"secret": TEST_SECRET}}
        for name in ("events", "crm", "desk")
    ]
    return make_runtime(connectors=connectors, **overrides)
