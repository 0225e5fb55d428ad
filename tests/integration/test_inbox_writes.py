"""Given verified requests, when intake's batch write stores them, then the rows read
back through the ORM are exactly the requests (credentials dropped, the body's bytes,
the receipt time, each event's payload), numbered in the batch's order, whether the
rows were prepared in the request's thread first or made by the write itself; and
intake hands its committer requests already prepared."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from helpers.signing import contact_event, signed
from sqlalchemy import select

from hub import inbox_writes
from hub.inbox_writes import Incoming, Prepared, prepare, store_batch
from hub.plugin import InboundEvent
from hub.runtime import Runtime
from hub.store.models import InboxEvent, RawDelivery
from webhooks import RawRequest

WHEN = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=UTC)


def request(tag: str, *events: tuple[str, dict[str, Any]]) -> Incoming:
    raw = RawRequest.build(
        "POST",
        f"https://hub.example/webhooks/events?tag={tag}",
        {"Content-Type": "application/json", "Authorization": "Bearer s3cret", "X-Tag": tag},
        f'{{"tag": "{tag}", "bytes": "\u00e9"}}'.encode() + b"\x00\xff",
        received_at=WHEN,
    )
    return Incoming(
        "events", "", raw, [InboundEvent(key, "contact.updated", body) for key, body in events]
    )


def batch(prefix: str) -> list[Incoming]:
    return [
        request(
            "a",
            (f"{prefix}1", {"name": "Zoë", "n": [1, {"x": None}]}),
            (f"{prefix}2", {"name": "Ada"}),
        ),
        request("b", (f"{prefix}3", {"k": 3}), (f"{prefix}3", {"k": "again"})),
        request("c", (f"{prefix}1", {"dup": True})),  # a key the batch stored
    ]


def stored(runtime: Runtime, prefix: str) -> list[tuple[Any, ...]]:
    """The batch's rows as the ORM reads them, ids replaced by their order."""
    with runtime.read_sessions() as session:
        events = session.scalars(
            select(InboxEvent)
            .where(InboxEvent.idempotency_key.like(f"{prefix}%"))
            .order_by(InboxEvent.id)
        ).all()
        deliveries = {e.delivery_id: session.get(RawDelivery, e.delivery_id) for e in events}
        order = {d: n for n, d in enumerate(sorted(deliveries))}
        rows = []
        for event in events:
            raw = deliveries[event.delivery_id]
            assert raw is not None
            rows.append(
                (
                    order[event.delivery_id],
                    event.idempotency_key[len(prefix) :],
                    event.event_type,
                    event.payload,
                    event.status,
                    event.attempts,
                    event.received_at,
                    raw.headers,
                    raw.body,
                    raw.url,
                    raw.received_at,
                )
            )
        return rows


@pytest.mark.parametrize("prepared", [True, False], ids=["prepared", "made_by_the_write"])
def test_a_batch_reads_back_as_the_requests_it_stored(runtime: Runtime, prepared: bool) -> None:
    items = batch("p-" if prepared else "w-")
    dialect = runtime.engine.dialect
    given: list[Incoming | Prepared] = [prepare(dialect, i) if prepared else i for i in items]
    with runtime.engine.begin() as conn:
        results = store_batch(conn, given)

    assert results == [(2, 0), (1, 1), (0, 1)]  # a key twice in a request counts once
    rows = stored(runtime, "p-" if prepared else "w-")
    assert [row[:7] for row in rows] == [
        (0, "1", "contact.updated", {"name": "Zoë", "n": [1, {"x": None}]}, "pending", 0, WHEN),
        (0, "2", "contact.updated", {"name": "Ada"}, "pending", 0, WHEN),
        (1, "3", "contact.updated", {"k": "again"}, "pending", 0, WHEN),  # the last one wins
    ]
    assert rows[0][7] == {"content-type": "application/json", "x-tag": "a"}  # no credentials
    assert rows[0][8] == items[0].raw.body  # the exact bytes, NUL and 0xFF included
    assert rows[2][9] == items[1].raw.url
    assert rows[0][10] == WHEN
    with runtime.read_sessions() as session:  # the request that stored nothing left no row
        urls = session.scalars(select(RawDelivery.url)).all()
    assert items[2].raw.url not in urls


def test_both_ways_store_the_same_rows(runtime: Runtime) -> None:
    dialect = runtime.engine.dialect
    with runtime.engine.begin() as conn:
        store_batch(conn, [prepare(dialect, i) for i in batch("p-")])
    with runtime.engine.begin() as conn:
        store_batch(conn, batch("w-"))
    made, written = stored(runtime, "p-"), stored(runtime, "w-")
    assert [r[:1] + r[2:] for r in made] == [r[:1] + r[2:] for r in written]  # keys aside


def test_intake_hands_its_committer_prepared_requests(
    app: Flask, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    handed: list[Any] = []
    real = inbox_writes.store_batch

    def spy(conn: Any, items: Any, **kwargs: Any) -> Any:
        handed.extend(items)
        return real(conn, items, **kwargs)

    monkeypatch.setattr(inbox_writes, "store_batch", spy)
    body, headers = signed(contact_event("c-prepared"), msg_id="msg_prepared")
    assert app.test_client().post("/webhooks/events", data=body, headers=headers).status_code == 200
    assert [type(item) for item in handed] == [Prepared]
    assert handed[0].incoming.raw.body == body
