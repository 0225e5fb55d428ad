"""Cluster-wide "one run at a time" for scheduled jobs.

PostgreSQL: a session-level advisory lock held for the run, so several scheduler
processes on several hosts never run one job twice and a crashed holder releases it
with its connection. SQLite: a lease row in ``job_locks`` (one host by nature). Each
acquisition is its own holder, so two threads of one process exclude each other too;
a crashed process's lease runs out after ``lease``.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, select, text

from hub.runtime import Runtime
from hub.store.coltypes import utcnow
from hub.store.db import transaction
from hub.store.models import JobLock


def _key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def job_lock(runtime: Runtime, name: str, holder: str, lease: timedelta) -> Iterator[bool]:
    """Yield True if this process holds ``name`` for the block, else False at once."""
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.connect() as conn:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(name)}).scalar()
            )
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(name)})
                    conn.commit()
        return
    now = utcnow()
    holder = f"{holder}/{uuid.uuid4().hex[:12]}"[:100]
    with transaction(runtime.sessions) as session:
        row = session.scalar(select(JobLock).where(JobLock.name == name, JobLock.lease_until > now))
        got = row is None
        if got:
            session.merge(JobLock(name=name, holder=holder, lease_until=now + lease))
    try:
        yield got
    finally:
        if got:
            with transaction(runtime.sessions) as session:
                session.execute(
                    delete(JobLock).where(JobLock.name == name, JobLock.holder == holder)
                )
