"""The migrations build exactly the schema the models describe, on both stores."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from hub.runtime import Runtime
from hub.store.migrate import current_revision, head_revision, in_schema_of
from hub.store.models import Base


def test_migrated_store_matches_the_models(runtime: Runtime) -> None:
    assert current_revision(runtime.engine) == head_revision()
    with runtime.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(
                conn, opts={"include_object": in_schema_of(conn.dialect.name)}
            ),
            Base.metadata,
        )
    assert diff == []


def test_sqlite_store_runs_in_wal_mode_with_foreign_keys(runtime: Runtime) -> None:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas; PostgreSQL has no equivalent settings to check")
    with runtime.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
