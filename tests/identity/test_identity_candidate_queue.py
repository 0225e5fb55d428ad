"""The candidate queue: contact writes only note the contacts they touched; the scorer
scores them later, in batches that several workers can take at once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from identity_helpers import contact_of, person
from sqlalchemy import select

from hub.identity import list_candidates
from hub.identity.candidate_queue import _claim, _finish, drain, pending, score_queued
from hub.runtime import Runtime
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import CandidateQueueEntry


def write(runtime: Runtime, *records: Any) -> None:
    """Apply records the way the worker does, without scoring."""
    with transaction(runtime.sessions) as session:
        runtime.pipeline.apply(session, runtime.connectors["events"], list(records))


def queued(runtime: Runtime) -> dict[str, int]:
    with runtime.read_sessions() as session:
        return {row.contact_id: row.touches for row in session.scalars(select(CandidateQueueEntry))}


def test_writes_queue_contacts_once_and_the_scorer_finds_the_candidates(
    runtime: Runtime,
) -> None:
    write(
        runtime,
        person("a", "Robert", "Smith", company="Acme Inc", emails=["bob.smith@acme.example"]),
        person("b", "Bob", "Smith", 5, company="ACME", emails=["bob.smith@gmail.example"]),
    )
    write(runtime, person("a", "Robert", "Smith", 9, company="Acme", tier="gold"))
    a, b = contact_of(runtime, "a"), contact_of(runtime, "b")
    assert queued(runtime) == {a: 2, b: 1}  # one row per contact, however often written
    with runtime.read_sessions() as session:
        assert list_candidates(session) == []  # nothing scored in the write path
    assert drain(runtime.sessions, runtime.pipeline.identity) == 2
    assert queued(runtime) == {}
    with runtime.read_sessions() as session:
        [found] = list_candidates(session)
    assert {found["contact_id"], found["candidate_id"]} == {a, b}
    assert score_queued(runtime.sessions, runtime.pipeline.identity) == 0


def test_a_contact_written_while_it_is_scored_is_scored_again(runtime: Runtime) -> None:
    write(runtime, person("a", "Ada", "Lovelace"))
    a = contact_of(runtime, "a")
    with transaction(runtime.sessions) as session:
        claimed = _claim(session, "w1", 10, timedelta(minutes=5))
    assert claimed == [(a, 1)]
    write(runtime, person("a", "Ada", "Lovelace", 5, company="Analytical"))
    with transaction(runtime.sessions) as session:
        _finish(session, "w1", claimed)
    assert queued(runtime) == {a: 2}  # released, not lost
    with runtime.read_sessions() as session:
        row = session.get(CandidateQueueEntry, a)
        assert row is not None
        assert (row.lease_until, row.locked_by) == (None, None)


def test_workers_take_disjoint_batches_and_an_expired_lease_is_taken_again(
    runtime: Runtime,
) -> None:
    write(runtime, *(person(f"r{i}", "Ada", f"Lovelace{i}", i) for i in range(5)))
    with transaction(runtime.sessions) as session:
        first = _claim(session, "w1", 3, timedelta(minutes=5))
    with transaction(runtime.sessions) as session:
        second = _claim(session, "w2", 3, timedelta(minutes=5))
    with transaction(runtime.sessions) as session:
        assert _claim(session, "w3", 3, timedelta(minutes=5)) == []
    assert len(first) == 3
    assert len(second) == 2
    assert not {c for c, _ in first} & {c for c, _ in second}
    with transaction(runtime.sessions) as session:  # w1 died: its lease runs out
        session.execute(
            CandidateQueueEntry.__table__.update()  # type: ignore[attr-defined]
            .where(CandidateQueueEntry.locked_by == "w1")
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    with transaction(runtime.sessions) as session:
        again = _claim(session, "w4", 5, timedelta(minutes=5))
    assert sorted(again) == sorted(first)
    with transaction(runtime.sessions) as session:
        _finish(session, "w1", first)  # the dead worker's late finish changes nothing
    assert len(queued(runtime)) == 5
    assert drain(runtime.sessions, runtime.pipeline.identity) == 0  # w2 and w4 hold all
    with transaction(runtime.sessions) as session:
        _finish(session, "w4", again)
        _finish(session, "w2", second)
        assert pending(session) == 0


def test_nothing_is_queued_when_candidates_are_off(make_runtime: Any) -> None:
    runtime = make_runtime(hub={"identity": {"candidates": {"enabled": False}}})
    write(runtime, person("a", "Ada", "Lovelace"))
    assert queued(runtime) == {}


def test_cli_score_drains_the_queue(
    make_runtime: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers.config import base_config

    from hub.cli import main

    runtime = make_runtime()
    write(
        runtime,
        person("a", "Robert", "Smith", company="Acme Inc", emails=["bob.smith@acme.example"]),
        person("b", "Bob", "Smith", 5, company="ACME", emails=["bob.smith@gmail.example"]),
    )
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(base_config(runtime.engine.url.render_as_string(False))))
    assert main(["--config", str(config), "identity", "score", "--limit", "1"]) == 0
    assert json.loads(capsys.readouterr().out) == {"scored": 1, "still_queued": 1}
    assert main(["--config", str(config), "identity", "score"]) == 0
    assert json.loads(capsys.readouterr().out) == {"scored": 1, "still_queued": 0}
    with runtime.read_sessions() as session:
        assert len(list_candidates(session)) == 1
