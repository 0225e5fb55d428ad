"""Fixtures shared by every test: a fresh store per test on SQLite or PostgreSQL.

The backend comes from ``THREADLINE_TEST_DATABASE_URL``: unset means SQLite (one
migrated template file copied per test); a ``postgresql://`` URL means a private
database created for this session (and dropped after), truncated between tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.config import base_config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from hub.runtime import Runtime
from hub.settings import Settings, settings_from_dict
from hub.store.db import make_engine, normalise_url
from hub.store.migrate import upgrade
from hub.store.models import Base

PG_URL = os.environ.get("THREADLINE_TEST_DATABASE_URL", "")
# Connector state is encrypted at rest; tests use a key of their own, never var/.
os.environ.setdefault("THREADLINE_SECRET_KEYS", "9iFWbWhlLlmCb0vYk35FRk7P3lQVbyxAg0Bm0mHyHVo=")
DB_FIXTURES = {"database_url", "runtime", "app", "client", "make_runtime"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark tests that touch the store so the PostgreSQL run can select just those."""
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_report_header() -> str:
    return f"threadline store: {'postgresql' if PG_URL else 'sqlite'}"


@pytest.fixture(scope="session")
def _store_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if PG_URL:
        base = make_url(normalise_url(PG_URL))
        name = f"threadline_test_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        return
    path = tmp_path_factory.mktemp("store") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield str(path)


@pytest.fixture
def database_url(_store_template: str, tmp_path: Path) -> str:
    """A migrated, empty store for this test."""
    if PG_URL:
        engine = make_engine(_store_template)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return _store_template
    target = tmp_path / "threadline.db"
    shutil.copy(_store_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def make_runtime(database_url: str) -> Iterator[Callable[..., Runtime]]:
    """Build runtimes on this test's store; checks no connection leaked at the end."""
    built: list[Runtime] = []

    def factory(**overrides: Any) -> Runtime:
        settings: Settings = settings_from_dict(base_config(database_url, **overrides), env={})
        runtime = Runtime.build(settings)
        built.append(runtime)
        return runtime

    yield factory
    for runtime in built:
        runtime.bus.close()  # its LISTEN thread may be reading a pop right now
        leaked = runtime.engine.pool.checkedout()  # type: ignore[attr-defined]
        runtime.close()
        assert leaked == 0, f"{leaked} database connection(s) left checked out"


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


@pytest.fixture
def app(runtime: Runtime) -> Any:
    from hub.app import create_app

    return create_app(runtime=runtime)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture(autouse=True)
def _remove_cli_log_handlers() -> Iterator[None]:
    """CLI commands install a stderr handler; drop it so it never outlives capsys."""
    import logging

    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_threadline", False):
            root.removeHandler(handler)
