"""Given scheduled pull streams, then pause, resume and "run now" hold on every
scheduler through the store, every run is recorded, and two scheduler processes on
one PostgreSQL store never run one job at the same time."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers.config import REPO, base_config
from ops_helpers import crm_instance, events_instance
from sqlalchemy import select

from hub.app import create_app
from hub.cli import main
from hub.runtime import Runtime
from hub.scheduler import build_scheduler, poll, request_run, run_job
from hub.store.models import JobState, SyncRun
from hub.tokens import create_token

HERE = Path(__file__).resolve().parent


def _runs(runtime: Runtime) -> list[SyncRun]:
    with runtime.read_sessions() as session:
        return list(session.scalars(select(SyncRun).order_by(SyncRun.started_at)))


def _state(runtime: Runtime) -> JobState:
    with runtime.read_sessions() as session:
        state = session.get(JobState, "sync:crm:people")
        assert state is not None
        return state


@pytest.fixture
def crm(make_runtime: Any) -> tuple[Runtime, Any, dict[str, str]]:
    from hub.store.db import transaction

    runtime = make_runtime(connectors=[events_instance(), crm_instance()])
    with transaction(runtime.sessions) as session:
        _, token = create_token(session, role="operator", name="oncall", actor="test")
    return runtime, create_app(runtime=runtime).test_client(), {"Authorization": f"Bearer {token}"}


def test_paused_job_is_skipped_by_every_scheduler_until_resumed(crm: Any) -> None:
    runtime, client, auth = crm
    assert client.post("/api/v1/admin/connectors/crm/pause", headers=auth).json["jobs"] == [
        "sync:crm:people"
    ]
    assert run_job(runtime, "crm", "people", "host-a") == "paused"
    assert run_job(runtime, "crm", "people", "host-b") == "paused"
    assert _runs(runtime) == []
    health = client.get("/api/v1/admin/connectors/crm", headers=auth).json
    assert (health["paused"], health["status"]) == (True, "paused")
    client.post("/api/v1/admin/connectors/crm/resume", headers=auth)
    assert run_job(runtime, "crm", "people", "host-a") == "succeeded"
    state = _state(runtime)
    assert (state.paused, state.last_status) == (False, "succeeded")
    assert state.last_started_at is not None
    assert state.last_finished_at is not None


def test_run_now_is_taken_by_one_scheduler_poll_even_when_paused(crm: Any) -> None:
    runtime, client, auth = crm
    client.post("/api/v1/admin/connectors/crm/pause", headers=auth)
    answer = client.post(
        "/api/v1/admin/connectors/crm/run", json={"stream": "people"}, headers=auth
    )
    assert answer.status_code == 202
    assert answer.json["jobs"] == ["sync:crm:people"]
    assert _state(runtime).run_requested_at is not None
    assert poll(runtime, None, "host-a") == ["succeeded"]
    assert poll(runtime, None, "host-b") == []  # the request was consumed
    [run] = _runs(runtime)
    assert (run.status, run.records_read, run.cursor_after) == ("succeeded", 3, {"offset": 3})
    assert _state(runtime).run_requested_at is None
    missing = client.post("/api/v1/admin/connectors/crm/run", json={"stream": "nope"}, headers=auth)
    assert missing.status_code == 404
    assert missing.json["detail"] == "connector 'crm' has no stream 'nope'"
    assert client.post("/api/v1/admin/connectors/events/run", headers=auth).status_code == 404


def test_a_tick_already_run_by_another_scheduler_is_not_run_again(crm: Any) -> None:
    runtime, _, _ = crm
    gap = timedelta(seconds=30)
    assert run_job(runtime, "crm", "people", "host-a", min_gap=gap) == "succeeded"
    assert run_job(runtime, "crm", "people", "host-b", min_gap=gap) == "skipped"
    assert len(_runs(runtime)) == 1


def test_scheduler_records_next_runs_and_can_run_on_start(make_runtime: Any) -> None:
    runtime = make_runtime(
        connectors=[events_instance(), crm_instance()],
        hub={"scheduler": {"run_on_start": True, "poll_seconds": 1}},
    )
    scheduler = build_scheduler(runtime, with_poller=True)
    assert sorted(j.id for j in scheduler.get_jobs()) == [
        "sync:crm:people",
        "threadline:poll",
        "threadline:retention",
    ]
    scheduler.start(paused=True)
    try:
        poll(runtime, scheduler, "host-a")
        job = scheduler.get_job("sync:crm:people")
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 60)
        assert _state(runtime).next_run_at == job.next_run_time
    finally:
        scheduler.shutdown(wait=False)


def test_cli_pauses_resumes_and_runs_a_connector(
    crm: Any, database_url: str, tmp_path: Path, capsys: Any
) -> None:
    runtime, _, _ = crm
    config = tmp_path / "c.json"
    config.write_text(
        json.dumps(base_config(database_url, connectors=[events_instance(), crm_instance()]))
    )
    assert main(["--config", str(config), "connectors", "pause", "crm"]) == 0
    assert "paused: sync:crm:people" in capsys.readouterr().out
    assert _state(runtime).paused
    assert main(["--config", str(config), "connectors", "resume", "crm"]) == 0
    assert not _state(runtime).paused
    assert main(["--config", str(config), "connectors", "run", "crm"]) == 0
    assert "crm/people: succeeded" in capsys.readouterr().out
    assert [r.status for r in _runs(runtime)] == ["succeeded"]
    with pytest.raises(SystemExit, match="no connector named 'nope'"):
        main(["--config", str(config), "connectors", "run", "nope"])


@pytest.mark.slow
def test_two_scheduler_processes_never_run_one_job_at_once(
    make_runtime: Any, database_url: str, tmp_path: Path
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("cluster-wide exclusivity is PostgreSQL's advisory lock; SQLite is one host")
    crm_slow = crm_instance(records=2, seconds_per_run=0.8)
    runtime = make_runtime(connectors=[events_instance(), crm_slow])
    config = tmp_path / "scheduler.json"
    config.write_text(
        json.dumps(
            base_config(
                database_url,
                connectors=[events_instance(), crm_slow],
                hub={"scheduler": {"run_on_start": True, "poll_seconds": 0.1}},
            )
        )
    )
    logs = [tmp_path / f"scheduler-{i}.log" for i in range(2)]
    sinks = [log.open("w") for log in logs]
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE / "ops_scheduler_proc.py"), str(config)],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
        for sink in sinks
    ]
    try:
        deadline = time.monotonic() + 20
        while not _runs(runtime):  # the start-up run of one of them
            assert time.monotonic() < deadline, "no scheduler ran the job"
            time.sleep(0.1)
        # Keep asking for runs for a while: each request lands while a run may be going.
        until = time.monotonic() + 3.5
        while time.monotonic() < until:
            if _state(runtime).run_requested_at is None:
                request_run(runtime, "crm", actor="test")
            time.sleep(0.15)
        deadline = time.monotonic() + 15
        while _state(runtime).run_requested_at is not None or any(
            r.finished_at is None for r in _runs(runtime)
        ):
            assert time.monotonic() < deadline, "requested runs were not taken"
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        codes = [proc.wait(timeout=15) for proc in procs]
        for sink in sinks:
            sink.close()
    runs = _runs(runtime)
    assert codes == [0, 0]
    assert len(runs) >= 3
    assert all(r.status == "succeeded" for r in runs)
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished_at is not None
        assert later.started_at >= earlier.finished_at, "two runs of one job overlapped"
    events = [
        [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        for log in logs
    ]
    for process_events in events:  # both schedulers took part
        assert any(e["event"].startswith("scheduler.job_") for e in process_events)
    skipped = [e for es in events for e in es if e["event"] == "scheduler.job_skipped"]
    assert any(e["reason"] == "running_elsewhere" for e in skipped), "no contention seen"
