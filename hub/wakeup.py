"""Wake idle workers the moment intake stores an event, instead of at the next poll.

In one process a :class:`threading.Event` does it. Across processes and hosts on
PostgreSQL, intake issues ``pg_notify`` inside its transaction (delivered at commit)
and each worker process keeps one LISTEN connection that sets its local event.
Polling stays as the safety net: a missed notification only costs one poll interval.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from hub.panel_bus import POLL_SECONDS

log = logging.getLogger(__name__)
CHANNEL = "threadline_inbox"


def notify_in_transaction(session: Session) -> None:
    """Queue a wake-up for other processes; PostgreSQL sends it when the commit lands."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})


class Wakeup:
    """The local event, fed by LISTEN on PostgreSQL once :meth:`listen` is called."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def set(self) -> None:
        self.event.set()

    def wait(self, timeout: float) -> bool:
        fired = self.event.wait(timeout)
        self.event.clear()
        return fired

    def listen(self, engine: Engine) -> None:
        if engine.dialect.name != "postgresql" or self._thread is not None:
            return
        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._thread = threading.Thread(
            target=self._run, args=(dsn,), name="inbox-listen", daemon=True
        )
        self._thread.start()

    def _run(self, dsn: str) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=POLL_SECONDS):
                            self.event.set()
            except psycopg.Error as exc:
                log.warning("wakeup.listen_reconnect", extra={"error_class": type(exc).__name__})
                self._stop.wait(1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
