"""Identifier locks on PostgreSQL (hub/identity/keylocks.py): a call takes a bounded
number of advisory locks however many identifiers it carries, and two transactions that
resolve the same identifier still wait for each other, whichever level each locks at."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.config import TEST_SECRET
from identity_helpers import person
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from hub.identity.keylocks import BUCKETS, FINE_LIMIT, lock_identifiers
from hub.store.db import transaction
from hub.store.models import Identifier

pytestmark = pytest.mark.skipif(
    not os.environ.get("THREADLINE_TEST_DATABASE_URL"),
    reason="advisory locks are PostgreSQL's; SQLite has one writer at a time",
)


def _emails(n: int, prefix: str = "p") -> list[tuple[str, str]]:
    return [("email", f"{prefix}{i}@example.com") for i in range(n)]


def _held(session: Session) -> int:
    """Advisory locks this session's backend holds."""
    return int(
        session.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                " AND pid = pg_backend_pid() AND granted"
            )
        )
        or 0
    )


@pytest.fixture
def two(runtime: Any) -> Iterator[tuple[Session, Session]]:
    """Two sessions in their own transactions; the second gives up on a lock at once."""
    first, second = runtime.sessions(), runtime.sessions()
    second.execute(text("SET lock_timeout = '50ms'"))
    try:
        yield first, second
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()


def _blocked(session: Session, keys: list[tuple[str, str]]) -> bool:
    """Whether locking ``keys`` has to wait (the transaction is rolled back if so)."""
    try:
        with session.begin_nested():
            lock_identifiers(session, keys)
    except OperationalError as exc:
        timed_out = "lock timeout" in str(exc)
        session.rollback()
        session.execute(text("SET lock_timeout = '50ms'"))
        return timed_out
    return False


def test_a_page_of_thousands_of_identifiers_takes_at_most_the_buckets(
    two: tuple[Session, Session],
) -> None:
    first, _ = two
    lock_identifiers(first, _emails(6000))  # a 2,000-record backfill page
    assert _held(first) <= BUCKETS
    lock_identifiers(first, _emails(6000))  # locked again by the same transaction: granted
    assert _held(first) <= BUCKETS


def test_a_call_at_the_fine_limit_takes_one_lock_per_identifier_and_its_buckets(
    two: tuple[Session, Session],
) -> None:
    first, _ = two
    lock_identifiers(first, _emails(FINE_LIMIT))
    held = _held(first)
    assert FINE_LIMIT < held <= FINE_LIMIT + BUCKETS


def test_small_calls_wait_only_for_the_same_identifier(two: tuple[Session, Session]) -> None:
    first, second = two
    lock_identifiers(first, [("email", "ana@example.com"), ("phone", "+14155550100")])
    assert not _blocked(second, [("email", "bob@example.com"), ("phone", "+14155550199")])
    assert _blocked(second, [("email", "bob@example.com"), ("phone", "+14155550100")])


def test_a_page_and_a_single_record_on_one_identifier_wait_for_each_other(
    two: tuple[Session, Session],
) -> None:
    first, second = two
    page = _emails(2000)
    lock_identifiers(first, page)  # coarse: buckets, exclusive
    assert _blocked(second, [page[1234]])
    first.rollback()
    lock_identifiers(first, [page[1234]])  # fine, the other way round
    assert _blocked(second, page)


def test_a_single_record_waits_for_a_page_holding_its_email_and_joins_its_contact(
    make_runtime: Any,
) -> None:
    """A backfill page (coarse locks) creates Ana; a webhook from another system with
    Ana's e-mail arrives before the page commits. It must wait, then link to the page's
    contact rather than create a second Ana."""
    runtime = make_runtime(connectors=[_connector("events"), _connector("desk")])
    records = [person(f"r{i}", "P", f"Person{i}", emails=[f"p{i}@example.com"]) for i in range(400)]
    records.append(person("ana-crm", "Ana", "Silva", emails=["ana@example.com"]))
    assert len(records) * 2 > FINE_LIMIT  # a record key and an e-mail each: coarse
    done: list[Exception | None] = []

    def webhook() -> None:
        try:
            with transaction(runtime.sessions) as session:
                single = person("ana-desk", "Ana", "Silva", emails=["ana@example.com"])
                runtime.pipeline.apply(session, runtime.connectors["desk"], [single])
            done.append(None)
        except Exception as exc:  # noqa: BLE001  (reported below, in the test's thread)
            done.append(exc)

    with transaction(runtime.sessions) as page:
        runtime.pipeline.apply(page, runtime.connectors["events"], records)
        thread = threading.Thread(target=webhook)
        thread.start()
        _wait_for_lock_waiter(runtime)
        assert not done  # still waiting for the page
    thread.join(timeout=30)
    assert done == [None]
    with runtime.read_sessions() as session:
        holders = session.scalars(
            select(Identifier.contact_id).where(Identifier.value == "ana@example.com")
        ).all()
    assert len(set(holders)) == 1


def test_a_page_sends_its_locks_and_its_read_in_one_round_trip(
    make_runtime: Any, tmp_path: Path
) -> None:
    """libpq's own trace of a record applied in a transaction already begun: the lock
    statement and the page's read go out with no Sync between them (one round trip,
    psycopg's pipeline mode), and the read still follows the locks."""
    runtime = make_runtime(connectors=[_connector("events")])
    record = person("ana-crm", "Ana", "Silva", emails=["ana@example.com"])
    trace = tmp_path / "libpq.trace"
    with transaction(runtime.sessions) as session, trace.open("w") as sink:
        session.execute(text("SELECT 1"))  # BEGIN is behind us
        pgconn = session.connection().connection.dbapi_connection.pgconn
        pgconn.trace(sink.fileno())
        try:
            runtime.pipeline.apply(session, runtime.connectors["events"], [record])
        finally:
            pgconn.untrace()
    sent = [line.split("\t") for line in trace.read_text().splitlines()]
    messages = [" ".join(f[3:]) for f in sent if len(f) > 3 and f[1] == "F"]
    kinds = [m.split(" ")[0] for m in messages]
    lock = next(i for i, m in enumerate(messages) if "pg_advisory_xact_lock" in m)
    read = next(i for i, m in enumerate(messages) if "page_rows" in m)
    assert lock < read
    assert "Sync" not in kinds[lock:read], kinds
    with runtime.read_sessions() as session:
        assert session.scalar(
            select(Identifier.contact_id).where(Identifier.value == "ana@example.com")
        )


def test_a_lock_the_page_cannot_take_fails_as_sqlalchemys_error_and_rolls_back(
    make_runtime: Any,
) -> None:
    """An error in the pipelined statements is SQLAlchemy's (a worker retries a deadlock
    victim by its SQLSTATE; intake answers a lost store with 503), and the session that
    saw it rolls back and goes on."""
    runtime = make_runtime(connectors=[_connector("events")])
    record = person("ana-crm", "Ana", "Silva", emails=["ana@example.com"])
    holder, waiter = runtime.sessions(), runtime.sessions()
    try:
        lock_identifiers(holder, [("email", "ana@example.com")])
        waiter.execute(text("SET lock_timeout = '50ms'"))
        with pytest.raises(OperationalError) as failed:
            runtime.pipeline.apply(waiter, runtime.connectors["events"], [record])
        assert failed.value.orig.sqlstate == "55P03"  # type: ignore[union-attr]
        waiter.rollback()
        holder.rollback()
        runtime.pipeline.apply(waiter, runtime.connectors["events"], [record])
        waiter.commit()
    finally:
        holder.close()
        waiter.close()
    with runtime.read_sessions() as session:
        assert session.scalar(
            select(Identifier.contact_id).where(Identifier.value == "ana@example.com")
        )


def _connector(name: str) -> dict[str, Any]:
    return {"name": name, "type": "standard_webhooks", "settings": {"secret": TEST_SECRET}}


def _wait_for_lock_waiter(runtime: Any) -> None:
    """Until some backend of this database waits on an advisory lock (30 s at most)."""
    deadline = time.monotonic() + 30
    with runtime.engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                )
            )
            if waiting:
                return
            conn.rollback()
            time.sleep(0.02)
    raise AssertionError("the webhook never waited for the page's locks")
