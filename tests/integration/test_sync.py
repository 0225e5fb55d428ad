"""Given a pull stream, when it runs, then each page and its cursor commit together,
a failed run resumes where it stopped, and one job runs once at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from helpers.config import REPO
from helpers.flow import count
from pydantic import BaseModel, ConfigDict

from hub.errors import RetriableError
from hub.locks import job_lock
from hub.plugin import Connector, Page, SourceRecord, Stream
from hub.registry import register_connector_type
from hub.scheduler import build_scheduler, run_job
from hub.store.models import Contact, SyncCursor, SyncRun
from hub.sync import run_stream

SOURCE: list[dict[str, Any]] = [
    {"id": f"p-{i}", "first_name": f"Person{i}", "emails": [f"p{i}@example.com"]} for i in range(35)
]


class FakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fail_at_offset: int | None = None


class ListStream(Stream):
    name = "contacts"
    object_type = "contact"
    calls: ClassVar[list[Mapping[str, Any]]] = []

    def __init__(self, fail_at: int | None) -> None:
        self.fail_at = fail_at

    def read(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        self.calls.append(dict(cursor))
        offset = int(cursor.get("offset", 0))
        while offset < len(SOURCE):
            if self.fail_at is not None and offset >= self.fail_at:
                if self.priority == "backfill":
                    raise RetriableError("daily budget kept for live work", retry_after=60)
                raise ConnectionError("source went away")
            chunk = SOURCE[offset : offset + 10]
            offset += len(chunk)
            stamp = datetime(2026, 1, 1, tzinfo=UTC)
            yield Page(
                records=[SourceRecord("contact", r["id"], r, stamp) for r in chunk],
                cursor={"offset": offset},
            )


class ListConnector(Connector):
    type_name = "list_test"
    description = "an in-memory pull stream"
    settings_model = FakeSettings
    object_types = ("contact",)

    def streams(self) -> Sequence[Stream]:
        assert isinstance(self.settings, FakeSettings)
        return [ListStream(self.settings.fail_at_offset)]


def list_runtime(make_runtime: Any, fail_at: int | None = None) -> Any:
    register_connector_type(ListConnector)
    return make_runtime(
        connectors=[
            {
                "name": "crm",
                "type": "list_test",
                "settings": {"fail_at_offset": fail_at},
                "mappings": {"contact": str(REPO / "mappings/standard_webhooks/contact.yaml")},
                "streams": {"contacts": {"interval_seconds": 60}},
            }
        ]
    )


def test_stream_reads_to_the_end_and_records_the_run(make_runtime: Any) -> None:
    runtime = list_runtime(make_runtime)
    connector = runtime.connectors["crm"]
    run = run_stream(runtime, connector, connector.streams()[0])
    assert (run.status, run.pages, run.records_read, run.records_changed) == (
        "succeeded",
        4,
        35,
        35,
    )
    assert run.cursor_after == {"offset": 35}
    assert count(runtime, Contact) == 35
    again = run_stream(runtime, connector, connector.streams()[0])
    assert (again.status, again.records_read, again.cursor_before) == (
        "succeeded",
        0,
        {"offset": 35},
    )


def test_failed_run_keeps_committed_pages_and_resumes_without_gap(make_runtime: Any) -> None:
    runtime = list_runtime(make_runtime, fail_at=20)
    connector = runtime.connectors["crm"]
    failed = run_stream(runtime, connector, connector.streams()[0])
    assert failed.status == "failed"
    assert failed.error == "ConnectionError: source went away"
    assert count(runtime, Contact) == 20
    with runtime.read_sessions() as session:
        assert session.get(SyncCursor, ("crm", "contacts")).cursor == {"offset": 20}
    connector.settings = FakeSettings()  # the source is back
    resumed = run_stream(runtime, connector, connector.streams()[0])
    assert (resumed.status, resumed.cursor_before, resumed.records_read) == (
        "succeeded",
        {"offset": 20},
        15,
    )
    assert count(runtime, Contact) == 35
    assert count(runtime, SyncRun) == 2


def test_a_job_already_running_elsewhere_is_skipped(make_runtime: Any) -> None:
    runtime = list_runtime(make_runtime)
    with job_lock(runtime, "sync:crm:contacts", "other-host", timedelta(minutes=5)) as got:
        assert got
        assert run_job(runtime, "crm", "contacts", "this-host") == "skipped"
    assert run_job(runtime, "crm", "contacts", "this-host") == "succeeded"
    assert count(runtime, Contact) == 35


def test_scheduler_has_one_job_per_configured_stream_with_stable_ids(make_runtime: Any) -> None:
    runtime = list_runtime(make_runtime)
    scheduler = build_scheduler(runtime)
    [job] = [j for j in scheduler.get_jobs() if j.id.startswith("sync:")]
    assert job.id == "sync:crm:contacts"
    assert (job.coalesce, job.max_instances) == (True, 1)


def test_config_naming_an_undeclared_stream_is_an_error(make_runtime: Any) -> None:
    from hub.errors import ConfigError

    register_connector_type(ListConnector)
    with pytest.raises(ConfigError, match=r"streams.nope: no such stream \(known: contacts\)"):
        make_runtime(
            connectors=[
                {
                    "name": "crm",
                    "type": "list_test",
                    "mappings": {"contact": str(REPO / "mappings/standard_webhooks/contact.yaml")},
                    "streams": {"nope": {"interval_seconds": 60}},
                }
            ]
        )


def test_backfill_stopped_by_budget_is_deferred_and_resumes_from_its_own_cursor(
    make_runtime: Any,
) -> None:
    runtime = list_runtime(make_runtime, fail_at=20)
    connector = runtime.connectors["crm"]
    stream = connector.streams()[0]
    deferred = run_stream(runtime, connector, stream, full=True)
    assert (deferred.status, deferred.mode, deferred.records_read) == ("deferred", "full", 20)
    with runtime.read_sessions() as session:
        assert session.get(SyncCursor, ("crm", "contacts@full")).cursor == {"offset": 20}
        assert session.get(SyncCursor, ("crm", "contacts")) is None  # increments untouched
    connector.settings = FakeSettings()
    done = run_stream(runtime, connector, connector.streams()[0], full=True)
    assert (done.status, done.cursor_before, done.records_read) == ("succeeded", {"offset": 20}, 15)
    with runtime.read_sessions() as session:
        assert session.get(SyncCursor, ("crm", "contacts@full")) is None  # next --full restarts
    assert count(runtime, Contact) == 35


def test_sync_command_prints_progress_and_a_summary(
    make_runtime: Any, database_url: str, tmp_path: Any, capsys: Any
) -> None:
    import json

    from helpers.config import base_config

    from hub.cli import main

    list_runtime(make_runtime)  # registers the type and migrates nothing new
    config = base_config(
        database_url,
        connectors=[
            {
                "name": "crm",
                "type": "list_test",
                "mappings": {"contact": str(REPO / "mappings/standard_webhooks/contact.yaml")},
            }
        ],
    )
    path = tmp_path / "c.yaml"
    path.write_text(json.dumps(config))
    assert main(["--config", str(path), "sync", "crm", "--full"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary | {"api_calls": 0} == {
        "stream": "contacts",
        "mode": "full",
        "status": "succeeded",
        "records": 35,
        "changed": 35,
        "pages": 4,
        "api_calls": 0,
        "error": None,
    }
    assert "contacts: 35 records, 4 pages" in err
