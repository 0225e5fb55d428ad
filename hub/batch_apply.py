"""The worker's batch path: many inbox events applied with a few statements per kind
of row instead of a dozen per record.

A worker claims a batch of events, maps them (:func:`prepare`, which reads nothing from
the store, so it can run for the next batch while the current one is applied) and then
writes them in one transaction (:func:`apply_batch`): contact records as pages
(:mod:`hub.store.bulk`), new interactions (:mod:`hub.store.batch`), then pop triggers,
each step in event order. ``tests/integration/test_batch_equivalence.py`` holds the
store equal to applying the same events one by one through :class:`hub.pipeline.Pipeline`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from hub.mapping import Mapping_
from hub.mappings import MappingSet
from hub.plugin import Change, Ignored, PopTrigger, SourceRecord
from hub.store import bulk as bulk_store
from hub.store import records
from hub.store.batch import InteractionBatch, NewInteraction, Written
from hub.store.coltypes import utcnow
from hub.store.models import Pop
from hub.store.rowsets import among, insert_rows
from hub.transforms import TransformContext

if TYPE_CHECKING:
    from hub.pipeline import Outcome, Pipeline


@dataclass(frozen=True)
class BatchEvent:
    """One interpreted event of a worker batch."""

    connector: str
    changes: Sequence[Change]
    received_at: datetime | None = None


@dataclass(frozen=True)
class Prepared:
    """A batchable event with its records mapped (:func:`prepare`)."""

    connector: str
    received_at: datetime | None
    contacts: tuple[bulk_store.PageItem, ...]
    interactions: tuple[NewInteraction, ...]
    triggers: tuple[PopTrigger, ...]
    ignored: tuple[str, ...]  # the reasons of its Ignored notes
    size: int  # how many changes the event held


def page_item(
    record: SourceRecord, mapping: Mapping_, ctx: TransformContext
) -> bulk_store.PageItem:
    """A contact record, mapped, as the page path (:mod:`hub.store.bulk`) takes it."""
    return bulk_store.PageItem(
        record.object_type, record.external_id, mapping.apply(record.data, ctx), record.updated_at
    )


def batchable(mappings: MappingSet, connector_name: str, changes: Sequence[Change]) -> bool:
    """Whether :func:`apply_batch` takes this event: records with a mapping, pop
    triggers and ignored notes. Deletions and merges (rare, and order-sensitive) go one
    by one."""
    for change in changes:
        if isinstance(change, SourceRecord):
            if mappings.get(connector_name, change.object_type) is None:
                return False
        elif not isinstance(change, PopTrigger | Ignored):
            return False
    return True


def prepare(mappings: MappingSet, ctx: TransformContext, event: BatchEvent) -> Prepared:
    """Map a :func:`batchable` event's records. Raises what the mapping raises."""
    contacts: list[bulk_store.PageItem] = []
    interactions: list[NewInteraction] = []
    for change in event.changes:
        if not isinstance(change, SourceRecord):
            continue
        mapping = mappings.get(event.connector, change.object_type)
        assert mapping is not None  # batchable() checked
        if mapping.target == "contact":
            contacts.append(page_item(change, mapping, ctx))
        else:
            ref = f"{change.object_type}:{change.external_id}"
            mapped = mapping.apply(change.data, ctx)
            interactions.append(NewInteraction(event.connector, ref, mapped, change.updated_at))
    return Prepared(
        event.connector,
        event.received_at,
        tuple(contacts),
        tuple(interactions),
        tuple(c for c in event.changes if isinstance(c, PopTrigger)),
        tuple(c.reason for c in event.changes if isinstance(c, Ignored)),
        len(event.changes),
    )


def apply_batch(
    pipeline: Pipeline, session: Session, events: Sequence[BatchEvent | Prepared]
) -> list[Outcome]:
    """Apply many events in the caller's transaction. The store ends as if the events
    were applied one by one; a pop's context is built after the whole batch is written,
    so it already shows the batch's other interactions of that customer.

    Every event must be :func:`batchable` (:func:`prepare` may have mapped it already).
    Raises on any failure; the caller rolls back and applies the events one by one to
    find the bad one.
    """
    from hub.pipeline import Outcome

    prepared = [
        e if isinstance(e, Prepared) else prepare(pipeline.mappings, pipeline.ctx, e)
        for e in events
    ]
    session.flush()
    changed = [len(p.contacts) + len(p.interactions) for p in prepared]
    pages: dict[str, list[bulk_store.PageItem]] = {}
    for event in prepared:
        if event.contacts:
            pages.setdefault(event.connector, []).extend(event.contacts)
    for connector, page in pages.items():
        bulk_store.apply_contact_page(
            session, connector=connector, items=page, rules=pipeline.identity
        )
    written = _write_interactions(pipeline, session, [i for p in prepared for i in p.interactions])
    triggers = [(n, t) for n, p in enumerate(prepared) for t in p.triggers]
    for n, count in _write_pops(pipeline, session, prepared, triggers, written).items():
        changed[n] += count
    session.flush()
    return [
        Outcome("ignored", detail="; ".join(p.ignored))
        if p.ignored and not changed[n] and len(p.ignored) == p.size
        else Outcome("done", changed=changed[n])
        for n, p in enumerate(prepared)
    ]


def _write_interactions(
    pipeline: Pipeline, session: Session, items: Sequence[NewInteraction]
) -> dict[tuple[str, str], Written]:
    """New interactions in runs through the batch path; updates of existing ones (or of
    one the batch just wrote) one by one at their place."""
    batch = InteractionBatch(session, pipeline.identity, pipeline.journey_window)
    existing = batch.existing_refs(items) if items else set()
    written: dict[tuple[str, str], Written] = {}
    run: list[NewInteraction] = []

    def flush_run() -> None:
        for item, row in zip(run, batch.write(run), strict=True):
            written[(item.connector, item.source_ref)] = row
        run.clear()

    for item in items:
        ref = (item.connector, item.source_ref)
        if ref in existing:
            flush_run()
            interaction, _ = pipeline.record_interaction(session, item)
            written[ref] = Written(interaction.id, interaction.contact_id, interaction.channel)
        else:
            run.append(item)
        existing.add(ref)
    flush_run()
    return written


def _write_pops(
    pipeline: Pipeline,
    session: Session,
    events: Sequence[Prepared],
    triggers: Sequence[tuple[int, PopTrigger]],
    written: dict[tuple[str, str], Written],
) -> dict[int, int]:
    """:func:`hub.store.records.record_pop` for the batch's triggers, in order: those
    whose interaction the batch wrote in one insert, the others one by one; then one
    fan-out for all of them. Returns the pops recorded per event."""
    keys: dict[str, list[str]] = {}
    for n, trigger in triggers:
        keys.setdefault(events[n].connector, []).append(trigger.key)
    seen = {
        (connector, key)
        for connector, wanted in keys.items()
        for key in session.scalars(
            select(Pop.trigger_key).where(
                Pop.connector == connector, among(session, Pop.trigger_key, wanted)
            )
        )
    }
    status = "pending" if pipeline.fanout is None else "queued"
    made: list[tuple[int, PopTrigger, Pop | dict[str, Any]]] = []
    for n, trigger in triggers:
        event = events[n]
        if (event.connector, trigger.key) in seen:
            continue
        seen.add((event.connector, trigger.key))
        ref = (
            (event.connector, f"{trigger.interaction[0]}:{trigger.interaction[1]}")
            if trigger.interaction
            else None
        )
        row = written.get(ref) if ref else None
        if row is not None:  # inserted below, with the others, already queued
            made.append((n, trigger, _pop_row(event, trigger, row, status)))
            continue
        pop = records.record_pop(
            session,
            connector=event.connector,
            trigger=trigger,
            received_at=event.received_at,
            rules=pipeline.identity,
        )
        if pop is not None:
            made.append((n, trigger, pop))
    new = [made_pop for _, _, made_pop in made if isinstance(made_pop, dict)]
    ids = insert_rows(session, _pop_table(), new, returning_ids=True)
    for pop_row, pop_id in zip(new, ids, strict=True):
        pop_row["id"] = pop_id
    recorded: dict[int, int] = {}
    for n, _, _ in made:
        recorded[n] = recorded.get(n, 0) + 1
    if pipeline.fanout is not None and made:
        pipeline.fanout.fan_out_many(
            session,
            [
                (_NewPop(**made_pop) if isinstance(made_pop, dict) else made_pop, trigger.data)
                for _, trigger, made_pop in made
            ],
        )
    return recorded


@dataclass(frozen=True)
class _NewPop:
    """A pop the batch inserted as a row (no ORM object), for the fan-out."""

    id: int
    connector: str
    trigger_key: str
    trigger: str
    contact_id: str | None
    interaction_id: int | None
    channel: str | None
    agent: str | None
    desk: str | None
    status: str
    triggered_at: datetime
    received_at: datetime


def _pop_table() -> Table:
    table = Pop.__table__
    assert isinstance(table, Table)
    return table


def _pop_row(event: Prepared, trigger: PopTrigger, row: Written, status: str) -> dict[str, Any]:
    """The row :func:`hub.store.records.record_pop` would insert for a trigger whose
    interaction the batch wrote."""
    return {
        "connector": event.connector,
        "trigger_key": trigger.key,
        "trigger": trigger.trigger,
        "contact_id": row.contact_id,
        "interaction_id": row.id,
        "channel": trigger.channel or row.channel,
        "agent": trigger.agent,
        "desk": trigger.desk,
        "status": status,
        "triggered_at": trigger.triggered_at or utcnow(),
        "received_at": event.received_at or utcnow(),
    }
