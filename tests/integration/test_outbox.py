"""Given pushes in the outbox, when workers deliver them, then each lands once, failures
retry with backoff, and dead ones can be replayed."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from helpers.config import TEST_SECRET
from sqlalchemy import select

from connectors.standard_webhooks.connector import StandardWebhooksConnector
from hub import outbox
from hub.delivery import DeliveryWorker
from hub.errors import RetriableError
from hub.plugin import PushTarget
from hub.registry import register_connector_type
from hub.store.db import transaction
from hub.store.models import Delivery


class RecordingTarget(PushTarget):
    name = "desk"
    pushed: ClassVar[list[str]] = []
    failures: ClassVar[list[Exception]] = []

    def push(self, payload: Mapping[str, Any], idempotency_key: str) -> str | None:
        if self.failures:
            raise self.failures.pop(0)
        self.pushed.append(idempotency_key)
        return f"https://desk.example/{payload['contact']}"


class DeskConnector(StandardWebhooksConnector):
    type_name = "desk_test"
    object_types = ()

    def push_targets(self) -> Sequence[PushTarget]:
        return [RecordingTarget()]


def desk_runtime(make_runtime: Any) -> Any:
    register_connector_type(DeskConnector)
    RecordingTarget.pushed.clear()
    RecordingTarget.failures.clear()
    return make_runtime(
        connectors=[{"name": "desk", "type": "desk_test", "settings": {"secret": TEST_SECRET}}]
    )


def deliveries(runtime: Any) -> list[Delivery]:
    with runtime.read_sessions() as session:
        return list(session.scalars(select(Delivery).order_by(Delivery.id)))


def test_a_push_queued_twice_is_delivered_once(make_runtime: Any) -> None:
    runtime = desk_runtime(make_runtime)
    with transaction(runtime.sessions) as session:
        assert outbox.enqueue(
            session, target="desk:desk", idempotency_key="pop-1", payload={"contact": "ct_1"}
        )
        assert not outbox.enqueue(
            session, target="desk:desk", idempotency_key="pop-1", payload={"contact": "ct_1"}
        )
    worker = DeliveryWorker(runtime, "w1")
    assert worker.run_once() == 1
    assert worker.run_once() == 0
    [row] = deliveries(runtime)
    assert (row.status, row.external_ref, row.attempts) == (
        "delivered",
        "https://desk.example/ct_1",
        1,
    )
    assert RecordingTarget.pushed == ["pop-1"]


def test_a_failing_push_is_retried_then_delivered(make_runtime: Any) -> None:
    runtime = desk_runtime(make_runtime)
    RecordingTarget.failures.append(RetriableError("vendor 503", retry_after=0))
    with transaction(runtime.sessions) as session:
        outbox.enqueue(
            session, target="desk:desk", idempotency_key="pop-2", payload={"contact": "ct_2"}
        )
    worker = DeliveryWorker(runtime, "w1")
    worker.run_once()
    [row] = deliveries(runtime)
    assert (row.status, row.last_error) == ("pending", "RetriableError: vendor 503")
    worker.run_once()
    [row] = deliveries(runtime)
    assert (row.status, row.attempts, row.last_error) == ("delivered", 2, None)


def test_push_to_an_unknown_target_dies_at_once_and_can_be_replayed(make_runtime: Any) -> None:
    runtime = desk_runtime(make_runtime)
    with transaction(runtime.sessions) as session:
        outbox.enqueue(session, target="desk:nowhere", idempotency_key="pop-3", payload={})
    DeliveryWorker(runtime, "w1").run_once()
    [row] = deliveries(runtime)
    assert row.status == "dead"
    assert row.last_error == "SkippableError: no push target 'desk:nowhere' is configured"
    with transaction(runtime.sessions) as session:
        assert outbox.replay(session) == 1
    assert deliveries(runtime)[0].status == "pending"


class _LaneTarget(PushTarget):
    """``slow`` finishes only once ``fast`` was pushed: one lane behind the other
    would wait out the timeout and fail."""

    fast_pushed = threading.Event()

    def __init__(self, name: str) -> None:
        self.name = name

    def push(self, payload: Mapping[str, Any], idempotency_key: str) -> str | None:
        if self.name == "slow" and not self.fast_pushed.wait(timeout=5):
            raise RetriableError("the fast target was held up behind this one")
        if self.name == "fast":
            self.fast_pushed.set()
        return self.name


class LanesConnector(StandardWebhooksConnector):
    type_name = "lanes_test"
    object_types = ()

    def push_targets(self) -> Sequence[PushTarget]:
        return [_LaneTarget("slow"), _LaneTarget("fast")]


def test_a_slow_target_does_not_hold_up_another_targets_pop(make_runtime: Any) -> None:
    register_connector_type(LanesConnector)
    _LaneTarget.fast_pushed.clear()
    runtime = make_runtime(
        connectors=[{"name": "desk", "type": "lanes_test", "settings": {"secret": TEST_SECRET}}]
    )
    with transaction(runtime.sessions) as session:  # the slow one is claimed first
        outbox.enqueue(session, target="desk:slow", idempotency_key="pop-s", payload={})
        outbox.enqueue(session, target="desk:fast", idempotency_key="pop-f", payload={})
    worker = DeliveryWorker(runtime, "w1")
    try:
        assert worker.run_once() == 2
    finally:
        worker.close()
    rows = deliveries(runtime)
    assert [(r.target, r.status, r.external_ref) for r in rows] == [
        ("desk:slow", "delivered", "slow"),
        ("desk:fast", "delivered", "fast"),
    ]
