"""The context benchmark's store kept between runs: built once per size (bench/dataset.py
makes the rows), upgraded in place when the schema moves on, warmed into memory before
a run, and copied for a benchmark that writes.

SQLite: ``bench/reports/data/context-<key>.db`` (with a ``.json`` of its figures);
PostgreSQL: database ``threadline_benchdata_<key>`` (its figures in the database's
comment, written last, so a database without one was interrupted and is rebuilt).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import PG_ADMIN_URL, REPO
from bench.dataset import GENERATOR, load_postgres, load_sqlite

DATA = REPO / "bench" / "reports" / "data"


def key(contacts: int, per: int) -> str:
    """The cache key: size and generator. A cached store made under an older schema
    revision is upgraded in place when used (``ensure``), so a new migration costs its
    own run time, not a reload."""
    text = f"{contacts}x{per}-g{GENERATOR}"
    return f"{contacts}x{per}_" + hashlib.sha256(text.encode()).hexdigest()[:10]


def _upgrade(url: str) -> str | None:
    from hub.store.db import make_engine
    from hub.store.migrate import current_revision, upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
        return current_revision(engine)
    finally:
        engine.dispose()


def _pg_admin() -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from hub.store.db import normalise_url

    base = make_url(normalise_url(PG_ADMIN_URL))
    return base, create_engine(base, isolation_level="AUTOCOMMIT")


def _pg_url(database: str) -> str:
    base, _ = _pg_admin()
    return str(base.set(database=database).render_as_string(hide_password=False))


def _pg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))


def ensure(store: str, contacts: int, per: int, log: Callable[[str], None]) -> dict[str, Any]:
    """The cached store for this size, built if missing: ``{"url", "built", ...}``."""
    from sqlalchemy import text

    name = key(contacts, per)
    if store == "sqlite":
        DATA.mkdir(parents=True, exist_ok=True)
        path = DATA / f"context-{name}.db"
        info_path = path.with_suffix(".json")
        if path.exists() and info_path.exists():
            url = f"sqlite:///{path}"
            return {**json.loads(info_path.read_text()), "url": url, "cached": True,
                    "revision": _upgrade(url)}  # fmt: skip
        for stale in DATA.glob(f"context-{contacts}x{per}_*"):
            stale.unlink()
        log(f"dataset: building {name} on sqlite (not cached yet)")
        started = time.perf_counter()
        tmp = path.with_suffix(".building")
        tmp.unlink(missing_ok=True)
        info = load_sqlite(tmp, contacts, per)
        tmp.rename(path)
        info.update(load_seconds=round(time.perf_counter() - started, 1),
                    size_mb=round(path.stat().st_size / 2**20))  # fmt: skip
        info_path.write_text(json.dumps(info))
        return {**info, "url": f"sqlite:///{path}", "cached": False}
    database = f"threadline_benchdata_{name}"
    _, admin = _pg_admin()
    try:
        with admin.connect() as conn:
            have = {r[0] for r in conn.execute(text("SELECT datname FROM pg_database"))}
            comment = None
            if database in have:
                comment = conn.execute(
                    text("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                         "WHERE datname = :d"), {"d": database},
                ).scalar()  # fmt: skip
            if comment:  # written last: a database without it was interrupted
                url = _pg_url(database)
                return {**json.loads(comment), "url": url, "cached": True,
                        "revision": _upgrade(url)}  # fmt: skip
            for stale in have:
                if stale.startswith(f"threadline_benchdata_{contacts}x{per}_"):
                    conn.execute(text(f'DROP DATABASE "{stale}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        log(f"dataset: building {name} on postgresql (not cached yet)")
        started = time.perf_counter()
        from hub.store.db import make_engine
        from hub.store.migrate import upgrade

        url = _pg_url(database)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        info = load_postgres(_pg_dsn(url), contacts, per)
        with admin.connect() as conn:
            size = conn.execute(text("SELECT pg_database_size(:d)"), {"d": database}).scalar()
            info.update(load_seconds=round(time.perf_counter() - started, 1),
                        size_mb=round(int(size or 0) / 2**20))  # fmt: skip
            literal = json.dumps(info).replace("'", "''")
            conn.execute(text(f"COMMENT ON DATABASE \"{database}\" IS '{literal}'"))
        return {**info, "url": url, "cached": False}
    finally:
        admin.dispose()


def warm(store: str, url: str) -> float:
    """Read the whole store once so its pages are in the OS page cache, as a database
    server's working set is; seconds taken. (A store built an hour ago may have been
    evicted, and then every lookup waits on the disk: that measures the disk.)"""
    from sqlalchemy import text

    started = time.perf_counter()
    if store == "sqlite":
        with Path(url.removeprefix("sqlite:///")).open("rb") as db:
            while db.read(1 << 24):
                pass
        return round(time.perf_counter() - started, 1)
    from hub.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_prewarm"))
            conn.execute(
                text(
                    "SELECT pg_prewarm(c.oid::regclass, 'read') FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 't')"
                )
            )
            conn.commit()
    finally:
        engine.dispose()
    return round(time.perf_counter() - started, 1)


def working_copy(store: str, url: str, folder: Path) -> tuple[str, Callable[[], None]]:
    """A copy of a cached store that a benchmark may write to, and how to drop it."""
    from sqlalchemy import text

    if store == "sqlite":
        source = Path(url.removeprefix("sqlite:///"))
        target = folder / f"copy-{os.getpid()}-{int(time.time())}.db"
        shutil.copyfile(source, target)
        # The copy sits in the page cache as gigabytes of dirty pages. The hub's first
        # WAL checkpoint fsyncs the file and so would write them all back (0.8-1.2 s
        # measured), a stall a live store never has: write them back now.
        descriptor = os.open(target, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        return f"sqlite:///{target}", lambda: target.unlink(missing_ok=True)
    from sqlalchemy.engine import make_url

    template = make_url(url).database
    copy = f"threadline_bench_copy_{os.getpid()}_{int(time.time())}"
    _, admin = _pg_admin()
    with admin.connect() as conn:
        version = int(conn.execute(text("SHOW server_version_num")).scalar() or 0)
        # FILE_COPY (PostgreSQL 15+) copies the files; the default, WAL_LOG, writes
        # every block of a many-gigabyte store through the WAL.
        strategy = " STRATEGY FILE_COPY" if version >= 150000 else ""
        conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"{strategy}'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)'))
        admin.dispose()

    return _pg_url(copy), drop


if __name__ == "__main__":  # python -m bench.dataset_cache STORE CONTACTS PER
    import sys

    def _log(text: str) -> None:
        sys.stderr.write(text + "\n")

    found = ensure(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), _log)
    print(json.dumps(found))
