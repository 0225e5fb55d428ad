"""PostgreSQL's pool pings a connection only after it sat idle, and replaces a dead one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hub.store import db


def _pg_engine(make_runtime: Any) -> Any:
    engine = make_runtime().engine
    if engine.dialect.name != "postgresql":
        pytest.skip("the pool's pings are PostgreSQL's (SQLite has no server connection)")
    return engine


def _count_pings(engine: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    pings: list[int] = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return bool(real(dbapi_connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    return pings


def test_a_connection_used_moments_ago_is_handed_out_without_a_ping(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _pg_engine(make_runtime)
    pings = _count_pings(engine, monkeypatch)
    for _ in range(3):
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    assert pings == []
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # now every reuse is "idle"
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    assert pings == [1]


def test_an_idle_connection_that_died_is_replaced_before_use(
    make_runtime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = _pg_engine(make_runtime)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    admin = create_engine(engine.url)  # not the pool under test
    with admin.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    with engine.connect() as conn:  # pinged, found dead, replaced: the caller sees nothing
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
