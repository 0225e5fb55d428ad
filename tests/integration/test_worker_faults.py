"""Workers under faults: SIGKILL mid-batch loses nothing and applies nothing twice;
concurrent workers never hold the same event."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.config import REPO, TEST_SECRET, base_config
from helpers.flow import count, drain, post
from helpers.signing import contact_event, interaction_event
from helpers.slow_worker import SlowConnector
from sqlalchemy import select

from hub.app import create_app
from hub.registry import register_connector_type
from hub.store.models import Contact, InboxEvent, Interaction
from hub.worker import Worker

SW_MAPPINGS = {
    "contact": str(REPO / "mappings/standard_webhooks/contact.yaml"),
    "interaction": str(REPO / "mappings/standard_webhooks/interaction.yaml"),
}
EVENTS = 150  # 75 contacts, each with one call


def slow_config(database_url: str) -> dict[str, Any]:
    return base_config(
        database_url,
        connectors=[
            {
                "name": "events",
                "type": "slow_test",
                "settings": {"secret": TEST_SECRET},
                "mappings": SW_MAPPINGS,
            }
        ],
        hub={
            "worker": {
                "batch_size": 25,
                "lease_seconds": 2,
                "max_attempts": 5,
                "backoff_base_seconds": 0.01,
                "backoff_max_seconds": 0.05,
                "poll_interval_seconds": 0.05,
            }
        },
    )


def fill_inbox(client: Any) -> None:
    for i in range(EVENTS // 2):
        phone = f"+1415555{i:04d}"
        assert (
            post(
                client, contact_event(f"c-{i}", emails=[f"p{i}@example.com"], phones=[phone])
            ).status_code
            == 200
        )
        assert (
            post(client, interaction_event(f"call-{i}", contact={"phone": phone})).status_code
            == 200
        )


def wait_for(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def test_worker_killed_mid_batch_loses_nothing_and_applies_nothing_twice(
    make_runtime: Any, database_url: str, tmp_path: Path
) -> None:
    register_connector_type(SlowConnector)
    config = slow_config(database_url)
    runtime = make_runtime(**{k: config[k] for k in ("connectors", "hub")})
    fill_inbox(create_app(runtime=runtime).test_client())
    config_file = tmp_path / "worker.json"
    config_file.write_text(json.dumps(config))
    victim = subprocess.Popen(
        [sys.executable, str(REPO / "tests/helpers/slow_worker.py"), str(config_file), "victim"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        done = InboxEvent.status == "done"
        wait_for(lambda: count(runtime, InboxEvent, done) >= 25)
        # now inside a later batch: the victim holds leases on events not yet done
        wait_for(
            lambda: (
                count(
                    runtime,
                    InboxEvent,
                    InboxEvent.locked_by == "victim",
                    InboxEvent.status == "pending",
                )
                > 0
            )
        )
        time.sleep(0.15)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    done_at_kill = count(runtime, InboxEvent, InboxEvent.status == "done")
    assert 0 < done_at_kill < EVENTS
    assert done_at_kill % 25 == 0, "a batch commits whole or not at all"
    orphaned = count(
        runtime,
        InboxEvent,
        InboxEvent.status == "pending",
        InboxEvent.locked_by == "victim",
        InboxEvent.attempts == 1,
    )
    assert orphaned > 0

    survivor = Worker(runtime, worker_id="survivor")
    assert survivor.run_once() <= EVENTS - done_at_kill - orphaned  # leased ones wait
    time.sleep(2.1)  # the victim's leases run out
    drain(runtime, "survivor")

    assert count(runtime, InboxEvent, InboxEvent.status == "done") == EVENTS
    assert count(runtime, Interaction) == EVENTS // 2
    assert count(runtime, Contact) == EVENTS // 2
    with runtime.sessions() as session:
        retaken = session.scalars(select(InboxEvent).where(InboxEvent.attempts == 2)).all()
    assert len(retaken) == orphaned  # only the killed batch ran twice, and applied once


def test_concurrent_workers_never_hold_the_same_event(make_runtime: Any) -> None:
    runtime = make_runtime(
        hub={
            "worker": {
                "batch_size": 10,
                "lease_seconds": 30,
                "max_attempts": 3,
                "poll_interval_seconds": 0.01,
                "backoff_base_seconds": 0.01,
                "backoff_max_seconds": 0.05,
            }
        }
    )
    fill_inbox(create_app(runtime=runtime).test_client())
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()
    original = runtime.pipeline.interpret

    def recording(connector: str, event: Any) -> Any:
        worker = threading.current_thread().name
        with lock:
            seen.append((worker, event.key))
        time.sleep(0.002)
        return original(connector, event)

    runtime.pipeline.interpret = recording
    errors: list[BaseException] = []

    def run(name: str) -> None:
        try:
            drain(runtime, name)
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"w{i}",), name=f"w{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    keys = [key for _, key in seen]
    assert len(keys) == len(set(keys)) == EVENTS, "an event was processed by two workers"
    assert len({worker for worker, _ in seen}) > 1, "the work was actually shared"
    assert count(runtime, InboxEvent, InboxEvent.status == "done") == EVENTS


def loop_runtime(make_runtime: Any, lease_seconds: float = 30) -> Any:
    worker = {"batch_size": 10, "lease_seconds": lease_seconds, "poll_interval_seconds": 0.01}
    runtime = make_runtime(hub={"worker": worker})
    fill_inbox(create_app(runtime=runtime).test_client())
    return runtime


def claimed_once_each(runtime: Any) -> bool:
    """Every event done, and each claimed exactly once (claims count as attempts)."""
    done = count(runtime, InboxEvent, InboxEvent.status == "done", InboxEvent.attempts == 1)
    return done == EVENTS


def test_worker_loop_claiming_ahead_applies_every_event_once(make_runtime: Any) -> None:
    runtime = loop_runtime(make_runtime)
    total = 0
    with Worker(runtime, worker_id="w1").batches() as batches:
        while n := batches.run_once():
            assert n == 10
            total += n
    assert total == EVENTS
    assert claimed_once_each(runtime)
    assert count(runtime, Interaction) == EVENTS // 2
    assert count(runtime, Contact) == EVENTS // 2


def test_leaving_the_worker_loop_gives_back_the_batch_claimed_ahead(make_runtime: Any) -> None:
    runtime = loop_runtime(make_runtime)
    held = (InboxEvent.locked_by == "w1", InboxEvent.status == "pending")
    with Worker(runtime, worker_id="w1").batches() as batches:
        assert batches.run_once() == 10
        if runtime.engine.dialect.name == "postgresql":  # SQLite claims each in turn
            assert batches.ahead is not None
            batches.ahead.result()  # the next batch, claimed while the first applied
            assert count(runtime, InboxEvent, *held) == 10
    assert count(runtime, InboxEvent, *held) == 0
    pending = InboxEvent.status == "pending"
    assert count(runtime, InboxEvent, pending, InboxEvent.attempts == 0) == EVENTS - 10
    drain(runtime, "w2")
    assert claimed_once_each(runtime)


def test_a_batch_claimed_ahead_whose_leases_ran_out_is_claimed_afresh(make_runtime: Any) -> None:
    """Held past its lease, a batch claimed ahead could be claimed a second time by the
    claim that starts beside it (the same worker id passes the fence): it is given
    back and claimed again, so no event is applied twice."""
    runtime = loop_runtime(make_runtime, lease_seconds=0.4)
    with Worker(runtime, worker_id="w1").batches() as batches:
        assert batches.run_once() == 10
        time.sleep(0.5)  # the leases of the batch claimed ahead run out
        while batches.run_once():
            pass
    assert claimed_once_each(runtime)
    assert count(runtime, Interaction) == EVENTS // 2


def test_a_deadlock_victims_batch_is_applied_again_and_other_store_errors_stand(
    runtime: Any, client: Any, monkeypatch: Any
) -> None:
    """PostgreSQL aborts one of two transactions that lock in crossing orders ("deadlock
    detected"): the victim's batch is rolled back whole, so the worker applies it again
    instead of leaving its events leased until the leases run out."""
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    from hub import worker as worker_module

    assert post(client, contact_event("c-1")).status_code == 200
    assert post(client, contact_event("c-2", first_name="Grace")).status_code == 200
    worker = Worker(runtime, worker_id="w-deadlock")
    applied = Worker._apply_all
    failures: list[Exception] = [psycopg.errors.DeadlockDetected("deadlock detected")]

    def once_a_victim(self: Worker, session: Any, items: Any) -> None:
        applied(self, session, items)  # its writes are rolled back with the transaction
        if failures:
            raise OperationalError("SELECT pg_advisory_xact_lock(1)", {}, failures.pop())

    monkeypatch.setattr(Worker, "_apply_all", once_a_victim)
    assert worker.run_once() == 2
    assert count(runtime, Contact) == 2
    with runtime.read_sessions() as session:
        statuses = session.scalars(select(InboxEvent.status)).all()
    assert statuses == ["done", "done"]

    assert post(client, contact_event("c-3", first_name="Ada")).status_code == 200
    failures.extend([psycopg.errors.DeadlockDetected("deadlock")] * worker_module.DEADLOCK_ATTEMPTS)
    with pytest.raises(OperationalError):
        worker.run_once()  # a deadlock every time: the error stands after the attempts
    assert post(client, contact_event("c-4", first_name="Alan")).status_code == 200
    failures[:] = [psycopg.errors.AdminShutdown("terminating connection")]
    with pytest.raises(OperationalError):
        worker.run_once()  # not a deadlock: never retried here
