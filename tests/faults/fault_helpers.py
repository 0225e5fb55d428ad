"""Plumbing for the fault suite: the hub as a real process, a sender that retries like
a vendor does, a private PostgreSQL we may stop, and a TCP proxy that drops connections.

Nothing here talks to anything beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
from helpers.config import REPO
from helpers.signing import signed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what or predicate}"
        time.sleep(0.02)


def subprocess_env() -> dict[str, str]:
    """This interpreter's environment minus anything that would override the config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADLINE_")}
    env["PYTHONPATH"] = str(REPO)
    return env


class HubProcess:
    """``threadline serve`` (web + worker + scheduler) in a subprocess on a free port."""

    def __init__(self, config: dict[str, Any], workdir: Path) -> None:
        self.config_file = workdir / "threadline.json"
        self.config_file.write_text(json.dumps(config))  # JSON is YAML
        self.log_file = workdir / "serve.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> None:
        command = [sys.executable, "-m", "hub.cli", "--config", str(self.config_file)]
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                [*command, "serve", "--port", str(self.port)],
                cwd=REPO,
                env=subprocess_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(self._healthy, timeout, f"the hub on {self.url} ({self.log_file})")

    def _healthy(self) -> bool:
        assert self.proc is not None
        assert self.proc.poll() is None, f"the hub exited: {self.log_file.read_text()[-2000:]}"
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def event_for(i: int) -> dict[str, Any]:
    """Event ``i`` of a load: even ones update a contact, odd ones start its call."""
    from helpers.signing import contact_event, interaction_event

    n, phone = i // 2, f"+1415556{i // 2:04d}"
    if i % 2 == 0:
        return contact_event(f"c-{n}", emails=[f"p{n}@example.com"], phones=[phone])
    return interaction_event(f"call-{n}", contact={"phone": phone})


class Sender:
    """Posts ``total`` signed events from ``threads`` keep-alive sessions, like a vendor:
    anything but a 2xx (a 503, a refused or reset connection) is re-sent later with the
    same ``webhook-id`` and a fresh signature, until every event is acknowledged."""

    def __init__(self, url: str, total: int, threads: int = 4, retry_delay: float = 0.05) -> None:
        self.url, self.total, self.retry_delay = url, total, retry_delay
        self.acked: list[str] = []
        self.statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._todo = list(range(total - 1, -1, -1))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def start(self) -> Sender:
        for thread in self._threads:
            thread.start()
        return self

    def acked_snapshot(self) -> set[str]:
        with self._lock:
            return set(self.acked)

    def count(self, status: str) -> int:
        with self._lock:
            return self.statuses[status]

    def _take(self) -> int | None:
        with self._lock:
            return self._todo.pop() if self._todo else None

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            i = self._take()
            if i is None:
                if len(self.acked_snapshot()) == self.total:
                    return
                time.sleep(0.01)
                continue
            body, headers = signed(event_for(i), msg_id=f"evt-{i}")
            try:
                response = session.post(self.url, data=body, headers=headers, timeout=10)
                outcome = str(response.status_code)
            except requests.RequestException as exc:
                outcome = type(exc).__name__
                session = requests.Session()
            with self._lock:
                self.statuses[outcome] += 1
                if outcome == "200":
                    self.acked.append(f"evt-{i}")
                else:
                    self._todo.insert(0, i)  # retried after the others, as senders back off
            if outcome != "200":
                time.sleep(self.retry_delay)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._stop.set()
        assert len(set(self.acked)) == self.total, (
            f"only {len(set(self.acked))}/{self.total} events acknowledged: {self.statuses}"
        )


# ----- a private PostgreSQL ------------------------------------------------------


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PrivatePostgres:
    """A throwaway cluster (initdb + pg_ctl) in a temp dir on a free port.

    The shared server at 5432 is never touched: this one is ours to stop and start.
    As root, the server runs as the ``postgres`` user (PostgreSQL refuses root).
    """

    def __init__(self) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("initdb/pg_ctl not found (Debian: postgresql in /usr/lib)")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.root = Path(tempfile.mkdtemp(prefix="threadline-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> PrivatePostgres:
        self._run(self.initdb, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        return self

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.root / "log"),
            "-w", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(self.pg_ctl, "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres().init()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


# ----- a proxy that drops connections ----------------------------------------------


class DropProxy:
    """A loopback TCP proxy to ``target_port``. After :meth:`drop` every open
    connection is cut and each of the next ``n`` new ones is closed (RST) as soon as its
    request arrives, so the client sees a connection reset in the middle of a call."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._lock = threading.Lock()
        self._to_drop = 0
        self.dropped = 0
        self._open: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def drop(self, n: int) -> None:
        with self._lock:
            self._to_drop = n
            victims, self._open = self._open, []
        for sock in victims:
            _reset(sock)

    def close(self) -> None:
        self._closed = True
        self.drop(0)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                dropping = self._to_drop > 0
                if dropping:
                    self._to_drop -= 1
                    self.dropped += 1
            if dropping:
                threading.Thread(target=_read_then_reset, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.close()


def _read_then_reset(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.settimeout(2)
        sock.recv(65536)
    _reset(sock)


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while chunk := src.recv(65536):
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
