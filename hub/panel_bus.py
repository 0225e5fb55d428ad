"""Carry pops to agent-panel streams, whichever process built them.

``LocalBus`` serves one process (SQLite's ``serve``). ``PostgresBus`` adds
PostgreSQL LISTEN/NOTIFY so a pop delivered by a worker on one host reaches the
Server-Sent-Events stream an agent holds open on any web process on any host: the
notification carries the pop itself when it fits (PostgreSQL refuses payloads of
8,000 bytes or more), else only the delivery id and each web process reads the payload
from the store: the usual pop reaches the stream without a query on the web side.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
CHANNEL = "threadline_pops"
#: How often a LISTEN loop checks whether it should stop (bounds close() time).
POLL_SECONDS = 0.2
#: The largest NOTIFY payload sent whole (PostgreSQL's limit is 8,000 bytes).
INLINE_BYTES = 7900


class LocalBus:
    """In-process fan-out to subscribers, each filtered to one agent (or desk)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[queue.Queue[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def subscribe(
        self, audience: str, inbox: queue.Queue[dict[str, Any]] | None = None
    ) -> queue.Queue[dict[str, Any]]:
        """A queue receiving ``audience``'s pops; pass ``inbox`` to have several
        audiences (an agent and everyone) arrive in one queue, in order."""
        self.start()  # the first panel viewer makes this process listen
        if inbox is None:
            inbox = queue.Queue(maxsize=100)
        with self._lock:
            self._subscribers.setdefault(audience, set()).add(inbox)
        return inbox

    def unsubscribe(self, audience: str, inbox: queue.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers.get(audience, set()).discard(inbox)

    def deliver_local(self, audience: str, message: dict[str, Any]) -> int:
        with self._lock:
            targets = list(self._subscribers.get(audience, ()))
        for inbox in targets:
            try:
                inbox.put_nowait(message)
            except queue.Full:
                log.warning("panel.subscriber_full", extra={"audience": audience})
        return len(targets)

    def publish(self, audience: str, message: dict[str, Any]) -> None:
        self.deliver_local(audience, message)

    def start(self) -> None:
        """Begin receiving pops published by other processes (web processes call it)."""
        return None

    def close(self) -> None:
        return None


class PostgresBus(LocalBus):
    """LocalBus plus NOTIFY on publish and a LISTEN thread feeding local subscribers."""

    def __init__(self, dsn: str, load: Callable[[int], tuple[str, dict[str, Any]] | None]) -> None:
        super().__init__()
        self._dsn = dsn
        self._load = load
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None
        self._publisher: Any = None  # psycopg.Connection, opened at the first publish
        self._publish_lock = threading.Lock()

    def start(self) -> None:
        """Start listening in the background (never blocks: the store may be down)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._listen, name="panel-listen", daemon=True)
            self._thread.start()

    def wait_listening(self, timeout: float) -> bool:
        """True once LISTEN is in place (pops published before that reach no one here)."""
        return self._listening.wait(timeout)

    def publish(self, audience: str, message: dict[str, Any]) -> None:
        """NOTIFY on one kept connection (opening one per pop costs a server process
        start, milliseconds on the pop's path); reconnects once if it was dropped."""
        import psycopg

        note = _note(audience, message)
        with self._publish_lock:
            for attempt in (1, 2):
                try:
                    if self._publisher is None or self._publisher.closed:
                        self._publisher = psycopg.connect(self._dsn, autocommit=True)
                    self._publisher.execute("SELECT pg_notify(%s, %s)", (CHANNEL, note))
                    return
                except psycopg.OperationalError:
                    self._drop_publisher()
                    if attempt == 2:
                        raise

    def _drop_publisher(self) -> None:
        if self._publisher is not None:
            try:
                self._publisher.close()
            finally:
                self._publisher = None

    def _listen(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=POLL_SECONDS):
                            self._forward(note.payload)
            except psycopg.Error as exc:
                log.warning("panel.listen_reconnect", extra={"error_class": type(exc).__name__})
                self._stop.wait(1.0)

    def _forward(self, payload: str) -> None:
        try:
            note = json.loads(payload)
            if isinstance(note.get("message"), dict) and isinstance(note.get("audience"), str):
                self.deliver_local(note["audience"], note["message"])
                return
            delivery_id = int(note["delivery_id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        found = self._load(delivery_id)
        if found is not None:
            audience, message = found
            self.deliver_local(audience, message)

    def close(self) -> None:
        self._stop.set()
        with self._publish_lock:
            self._drop_publisher()
        if self._thread is not None:
            self._thread.join(timeout=3)


def _note(audience: str, message: dict[str, Any]) -> str:
    """The NOTIFY payload: the pop whole when it fits, else its delivery id."""
    whole = json.dumps({"audience": audience, "message": message}, default=str)
    if len(whole.encode()) <= INLINE_BYTES:
        return whole
    return json.dumps({"delivery_id": message.get("delivery_id")})
