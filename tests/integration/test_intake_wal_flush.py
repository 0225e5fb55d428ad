"""Given intake on a SQLite file, when a batch commits, then the write-ahead log is
flushed to disk (``fdatasync``) after the cross-process lock is left and before any
request of the batch is answered; a failed flush answers 503 and acknowledges nothing;
and the committer's connection goes back to the pool flushing at commit again.

These run on a SQLite file of their own whichever store the suite targets: the flush
is what intake does on SQLite only (PostgreSQL flushes its own WAL at commit).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.config import base_config
from helpers.signing import contact_event, signed
from sqlalchemy import Connection, Engine, event, func, select
from sqlalchemy.orm import Session

from hub import group_commit, inbox
from hub.app import create_app
from hub.group_commit import GroupCommit, WalFlush, file_lock
from hub.inbox import Incoming
from hub.plugin import InboundEvent
from hub.runtime import Runtime
from hub.settings import settings_from_dict
from hub.store.db import make_engine
from hub.store.migrate import upgrade
from hub.store.models import InboxEvent
from webhooks import RawRequest

FULL, NORMAL = 2, 1  # PRAGMA synchronous values


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    path = str(tmp_path / "intake.db")
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine, path
    engine.dispose()


class Disk:
    """Stands in for ``os.fdatasync``: records which file each flush was for and what
    the store held at that moment (read by another connection); fails when told to."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.flushed: list[tuple[str, int]] = []
        self.fail = False

    def fdatasync(self, fd: int) -> None:
        if self.fail:
            raise OSError(errno.EIO, "injected: the disk failed")
        with Session(self.engine) as session:
            committed = session.scalar(select(func.count()).select_from(InboxEvent)) or 0
        self.flushed.append((os.readlink(f"/proc/self/fd/{fd}"), committed))


@pytest.fixture
def disk(store: tuple[Engine, str], monkeypatch: pytest.MonkeyPatch) -> Disk:
    recorder = Disk(store[0])
    monkeypatch.setattr(group_commit.os, "fdatasync", recorder.fdatasync)
    return recorder


def incoming(key: str) -> Incoming:
    body, headers = signed(contact_event(key), msg_id=key)
    raw = RawRequest.build("POST", "http://hub.test/webhooks/events", headers, body)
    return Incoming("events", "", raw, [InboundEvent(key, "contact.updated", {"k": key})])


def synchronous(conn: Connection) -> int:
    """The connection's setting, asked of the driver (SQLAlchemy would BEGIN IMMEDIATE)."""
    cursor = conn.connection.cursor()
    cursor.execute("PRAGMA synchronous")
    value = int(cursor.fetchone()[0])
    cursor.close()
    return value


def committer(engine: Engine, path: str, seen: list[int]) -> GroupCommit[Incoming, Any]:
    def write(conn: Connection, items: Any) -> list[tuple[int, int]]:
        seen.append(synchronous(conn))
        return inbox.store_batch(conn, items)

    return GroupCommit(
        engine,
        write,
        serialize=lambda: file_lock(f"{path}-intake.lock"),
        durability=WalFlush(path),
    )


def test_a_batch_commits_without_flushing_and_its_log_is_flushed_before_the_answer(
    store: tuple[Engine, str], disk: Disk
) -> None:
    engine, path = store
    seen: list[int] = []
    group = committer(engine, path, seen)

    assert group.submit(incoming("msg_1")) == (1, 0)
    assert disk.flushed == [(f"{path}-wal", 1)]  # the log, after the commit, before return
    assert seen == [NORMAL]  # SQLite itself did not wait for the disk at commit
    assert group.submit(incoming("msg_2")) == (1, 0)
    assert disk.flushed[1:] == [(f"{path}-wal", 2)]


def test_the_connection_goes_back_to_the_pool_flushing_at_commit_again(
    store: tuple[Engine, str], disk: Disk
) -> None:
    engine, path = store
    group = committer(engine, path, [])
    with group.in_flight():
        assert group.submit(incoming("msg_1")) == (1, 0)
    pool: Any = engine.pool
    assert pool.checkedout() == 0
    pooled = [engine.connect() for _ in range(pool.checkedin())]  # the committer's among them
    try:
        assert [synchronous(conn) for conn in pooled] == [FULL] * len(pooled)
    finally:
        for conn in pooled:
            conn.close()
    assert len(disk.flushed) == 1


def test_a_failed_flush_fails_the_batch_and_a_retry_is_stored_once(
    store: tuple[Engine, str], disk: Disk
) -> None:
    engine, path = store
    group = committer(engine, path, [])
    disk.fail = True
    with pytest.raises(OSError, match="injected"):
        group.submit(incoming("msg_1"))
    assert group.batches == 0  # nothing counted as acknowledged
    disk.fail = False
    # The rows did commit, so the sender's retry finds them: acknowledged, not doubled.
    assert group.submit(incoming("msg_1")) == (0, 1)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 1


def test_intake_answers_503_when_the_flush_fails(
    store: tuple[Engine, str], disk: Disk, tmp_path: Path
) -> None:
    _, path = store
    runtime = Runtime.build(settings_from_dict(base_config(f"sqlite:///{path}"), env={}))
    try:
        client = create_app(runtime=runtime).test_client()
        disk.fail = True
        body, headers = signed(contact_event("c-1"), msg_id="msg_1")
        failed = client.post("/webhooks/events", data=body, headers=headers)
        disk.fail = False
        retried = client.post("/webhooks/events", data=body, headers=headers)
    finally:
        runtime.close()

    assert failed.status_code == 503
    assert failed.get_json()["title"] == "store_unavailable"
    assert failed.headers["Retry-After"] == "5"
    assert retried.status_code == 200
    assert disk.flushed == [(f"{path}-wal", 1)]


def test_a_store_that_is_not_in_wal_mode_keeps_flushing_at_commit(
    store: tuple[Engine, str], disk: Disk
) -> None:
    engine, path = store
    engine.dispose()

    def rollback_journal(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA journal_mode=DELETE")  # after the store's WAL

    event.listen(engine, "connect", rollback_journal)
    seen: list[int] = []
    group = committer(engine, path, seen)

    assert group.submit(incoming("msg_1")) == (1, 0)
    assert seen == [FULL]
    assert disk.flushed == []
