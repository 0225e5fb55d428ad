"""What every benchmark shares: a fresh store per run, config files, percentiles."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 - loopback bench value
TOKEN = "bench-api-token-0123456789"  # noqa: S105 - loopback bench value
PG_ADMIN_URL = os.environ.get(
    "THREADLINE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as answer:  # noqa: S310 - loopback
            if answer.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up in {timeout}s")


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    keys = os.environ.get("THREADLINE_SECRET_KEYS")
    if keys:
        clean["THREADLINE_SECRET_KEYS"] = keys
    clean["PYTHONPATH"] = str(REPO)
    return clean


def hub_config(url: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "hub": {
            "database_url": url,
            "mappings_dir": str(REPO / "mappings"),
            "scheduler_enabled": False,
            "worker": {"batch_size": 100, "lease_seconds": 60, "poll_interval_seconds": 0.05},
        },
        "api": {"tokens": [TOKEN]},
        "logging": {"level": "WARNING", "format": "json"},
        "connectors": [
            {"name": "events", "type": "standard_webhooks", "settings": {"secret": SECRET}}
        ],
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def write_config(config: dict[str, Any], folder: Path) -> Path:
    path = folder / f"config-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(config))
    return path


@contextlib.contextmanager
def fresh_store(kind: str, folder: Path) -> Iterator[str]:
    """A migrated, empty store: a new SQLite file, or a new database on the shared
    PostgreSQL (created now, dropped after)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from hub.store.db import make_engine, normalise_url
    from hub.store.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
        return
    base = make_url(normalise_url(PG_ADMIN_URL))
    name = f"threadline_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def count_rows(url: str, table: str, where: str = "") -> int:
    from sqlalchemy import text

    from hub.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table} {where}")).scalar() or 0)  # noqa: S608
    finally:
        engine.dispose()


def run_json(args: list[str], timeout: float) -> dict[str, Any]:
    """Run a bench child process; its last stdout line is its JSON result."""
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env=env(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{args[:3]} failed ({done.returncode}): {done.stderr.decode()[-1500:]}")
    return dict(json.loads(lines[-1]))


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="threadline-bench-"))


def sqlite_version() -> str:
    return sqlite3.sqlite_version


def serve(
    command: list[str], port: int, log: Path, timeout: float = 120
) -> subprocess.Popen[bytes]:
    """Start a server process (output to ``log``) and wait for its /healthz."""
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=REPO, env=env(), stdout=out, stderr=subprocess.STDOUT)
    wait_http(f"http://127.0.0.1:{port}/healthz", timeout, proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited in 20 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
