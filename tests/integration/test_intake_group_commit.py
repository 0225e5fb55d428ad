"""Given concurrent signed webhooks, when intake stores them, then requests that arrive
while a commit is in flight share the next transaction, each is acknowledged only once
the transaction holding it has committed, a store failure fails exactly the requests of
its batch (503, nothing of them stored), and a poison request or a duplicate in a batch
never fails its neighbours.

A gate on intake's driver cursor holds the first batch inside its INSERT, so which
requests share a batch is decided by the test, not by timing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from flask import Flask
from helpers.driver_hooks import on_intake_statement
from helpers.signing import contact_event, signed
from sqlalchemy import event, func, select

from hub.group_commit import FileLock, GroupCommit
from hub.inbox import Incoming
from hub.intake import COMMITTER
from hub.plugin import InboundEvent
from hub.runtime import Runtime
from hub.store.models import InboxEvent, RawDelivery
from webhooks import RawRequest

POISON = "poison-marker-7f3a"


class Gate:
    """Holds the next intake INSERT (while ``hold_next``) until :meth:`open`; later ones
    can be made to fail as a store that went away, or (when they carry :data:`POISON`)
    as a value the store refuses."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.released = threading.Event()
        self.hold_next = True
        self.fail_store = False

    def hook(self, dbapi: Any, statement: str, parameters: Any) -> None:
        if "INSERT INTO inbox_events" not in statement:
            return
        if self.hold_next:
            self.hold_next = False
            self.entered.set()
            assert self.released.wait(20), "the test never opened the gate"
        elif self.fail_store:
            self.fail_store = False
            raise dbapi.OperationalError("injected: the store went away")
        elif POISON in str(parameters):
            raise dbapi.DataError("injected: the store refuses a value")

    def open(self) -> None:
        self.released.set()


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate()
    with on_intake_statement(gate.hook):
        yield gate
        gate.open()


def committer(app: Flask) -> GroupCommit[Any, Any]:
    found: GroupCommit[Any, Any] = app.extensions[COMMITTER]
    return found


def post(app: Flask, payload: Any, msg_id: str) -> Any:
    body, headers = signed(payload, msg_id=msg_id)
    return app.test_client().post("/webhooks/events", data=body, headers=headers)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def stored_keys(runtime: Runtime) -> list[str]:
    with runtime.read_sessions() as session:
        return sorted(session.scalars(select(InboxEvent.idempotency_key)))


def raw_count(runtime: Runtime) -> int:
    with runtime.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RawDelivery)) or 0)


def first_then_batch(
    app: Flask, gate: Gate, pool: ThreadPoolExecutor, payloads: dict[str, Any]
) -> tuple[Any, dict[str, Any]]:
    """Post ``first`` alone and hold its commit; queue ``payloads`` behind it, release,
    and return every response (``payloads`` share the second commit)."""
    first = pool.submit(post, app, contact_event("c-first"), "msg_first")
    assert gate.entered.wait(20)
    futures: dict[str, Future[Any]] = {
        key: pool.submit(post, app, payload, key) for key, payload in payloads.items()
    }
    wait_until(lambda: committer(app).pending == len(payloads), "the batch to queue")
    gate.open()
    return first.result(timeout=30), {k: f.result(timeout=30) for k, f in futures.items()}


def test_requests_arriving_during_a_commit_share_the_next_one_and_all_are_stored(
    app: Flask, runtime: Runtime, gate: Gate
) -> None:
    payloads = {f"msg_{i:02d}": contact_event(f"c-{i}") for i in range(15)}
    with ThreadPoolExecutor(16) as pool:
        first, answers = first_then_batch(app, gate, pool, payloads)

    assert first.status_code == 200
    assert {k: (a.status_code, a.get_json()) for k, a in answers.items()} == {
        k: (200, {"accepted": 1, "duplicates": 0}) for k in payloads
    }
    assert (committer(app).batches, committer(app).items) == (2, 16)
    assert stored_keys(runtime) == sorted(["msg_first", *payloads])
    assert raw_count(runtime) == 16


def test_many_concurrent_requests_are_each_stored_once_and_acknowledged(
    app: Flask, runtime: Runtime
) -> None:
    keys = [f"msg_{i:03d}" for i in range(60)]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda k: post(app, contact_event(k), k), keys))

    assert [a.status_code for a in answers] == [200] * len(keys)
    assert stored_keys(runtime) == keys
    assert committer(app).items == len(keys)


def test_a_store_failure_answers_503_to_exactly_its_batch_and_stores_none_of_it(
    app: Flask, runtime: Runtime, gate: Gate
) -> None:
    gate.fail_store = True  # the second batch's INSERT fails
    payloads = {f"msg_{i}": contact_event(f"c-{i}") for i in range(4)}
    with ThreadPoolExecutor(8) as pool:
        first, answers = first_then_batch(app, gate, pool, payloads)

    assert first.status_code == 200
    for answer in answers.values():
        assert answer.status_code == 503
        assert answer.get_json()["title"] == "store_unavailable"
        assert answer.headers["Retry-After"] == "5"
    assert stored_keys(runtime) == ["msg_first"]
    assert raw_count(runtime) == 1
    # The sender retries, and the retry is stored.
    assert post(app, payloads["msg_0"], "msg_0").status_code == 200
    assert stored_keys(runtime) == ["msg_0", "msg_first"]


def test_a_poison_request_fails_alone_and_its_neighbours_are_stored(
    app: Flask, runtime: Runtime, gate: Gate
) -> None:
    payloads = {
        "msg_a": contact_event("c-a"),
        "msg_poison": contact_event("c-p", last_name=POISON),
        "msg_b": contact_event("c-b"),
    }
    with ThreadPoolExecutor(8) as pool:
        first, answers = first_then_batch(app, gate, pool, payloads)

    assert first.status_code == 200
    assert answers["msg_a"].status_code == 200
    assert answers["msg_b"].status_code == 200
    assert answers["msg_poison"].status_code == 400
    assert answers["msg_poison"].get_json()["title"] == "invalid_payload"
    assert stored_keys(runtime) == ["msg_a", "msg_b", "msg_first"]
    assert raw_count(runtime) == 3


def test_duplicates_in_one_batch_are_stored_once_and_fail_nobody(
    app: Flask, runtime: Runtime, gate: Gate
) -> None:
    gate.hold_next = False
    assert post(app, contact_event("c-old"), "msg_old").status_code == 200
    gate.hold_next = True
    payloads = {"msg_old": contact_event("c-old"), "msg_new": contact_event("c-new")}
    with ThreadPoolExecutor(8) as pool:
        first = pool.submit(post, app, contact_event("c-first"), "msg_first")
        assert gate.entered.wait(20)
        futures = [pool.submit(post, app, payload, key) for key, payload in payloads.items()]
        futures.append(pool.submit(post, app, contact_event("c-new"), "msg_new"))
        wait_until(lambda: committer(app).pending == 3, "the batch to queue")
        gate.open()
        answers = [f.result(timeout=30).get_json() for f in futures]

    assert first.result().status_code == 200
    assert answers[0] == {"accepted": 0, "duplicates": 1}  # stored before the batch
    # The same new key twice in one batch: one of the two requests stores it.
    assert sorted(a["accepted"] for a in answers[1:]) == [0, 1]
    assert stored_keys(runtime) == ["msg_first", "msg_new", "msg_old"]
    assert raw_count(runtime) == 3  # requests that stored nothing leave no raw row


def incoming(key: str) -> Incoming:
    body, headers = signed(contact_event(key), msg_id=key)
    raw = RawRequest.build("POST", "http://hub.test/webhooks/events", headers, body)
    return Incoming("events", "", raw, [InboundEvent(key, "contact.updated", {"k": key})])


def test_the_connection_waits_for_requests_in_flight_and_goes_back_with_the_last(
    app: Flask, runtime: Runtime
) -> None:
    checkouts: list[int] = []

    def checkout(*_: Any) -> None:
        checkouts.append(1)

    event.listen(runtime.engine, "checkout", checkout)
    pool: Any = runtime.engine.pool  # a QueuePool (checkedout)
    group = committer(app)
    try:
        assert group.submit(incoming("msg_alone")) == (1, 0)
        assert pool.checkedout() == 0  # nobody in flight: straight back to the pool
        with group.in_flight():  # another request, still verifying
            with group.in_flight():
                assert group.submit(incoming("msg_1")) == (1, 0)
            assert pool.checkedout() == 1  # kept for the request still in flight
            with group.in_flight():
                assert group.submit(incoming("msg_2")) == (1, 0)
            assert pool.checkedout() == 1
        assert pool.checkedout() == 0  # the last request out returned it
    finally:
        event.remove(runtime.engine, "checkout", checkout)
    assert len(checkouts) == 2  # one for the lone batch, one shared by the next two
    assert stored_keys(runtime) == ["msg_1", "msg_2", "msg_alone"]


def test_the_file_lock_queues_its_holders_and_keeps_its_file_open(tmp_path: Any) -> None:
    path = str(tmp_path / "store.db-intake.lock")
    first, second = FileLock(path), FileLock(path)  # as two web processes open it
    order: list[str] = []

    def take_second() -> None:
        with second():
            order.append("second")

    with first():
        waiter = threading.Thread(target=take_second)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()  # queued behind the holder
        order.append("first released")
    waiter.join(20)
    assert order == ["first released", "second"]
    descriptor = first._fd
    with first():  # the same descriptor again: nothing reopened
        assert first._fd == descriptor is not None
