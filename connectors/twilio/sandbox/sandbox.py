"""``TwilioSandbox``: one fake Twilio account with one TaskRouter workspace, a Python
control API for tests, and ``serve`` for a process."""

from __future__ import annotations

import json
import logging
import random
from collections import deque
from collections.abc import Mapping
from typing import Any

from twilio.rest import Client

from connectors.twilio.client import rest_client

from .app import create_app
from .faults import FaultInjector
from .store import Clock, Task, TaskRouterStore, Worker, system_clock

log = logging.getLogger(__name__)


class TwilioSandbox:
    """A fake account: ``TwilioSandbox(seed=7)`` is deterministic (sids and token).

    Serve ``sb.app`` on loopback (``hub.sandbox_server.run_in_thread``) and talk to it
    with the real SDK: ``sb.client(server.url)`` (a ``twilio.rest.Client`` whose HTTP
    layer sends every Twilio host to the sandbox).
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        clock: Clock | None = None,
        account_sid: str | None = None,
        auth_token: str | None = None,
        workspace_sid: str | None = None,
        max_attributes_bytes: int = 16_384,
    ) -> None:
        rng = random.Random(seed)  # noqa: S311 - sids for a sandbox, not secrets
        hexes = lambda: "".join(rng.choice("0123456789abcdef") for _ in range(32))  # noqa: E731
        self.account_sid = account_sid or "AC" + hexes()
        self.auth_token = auth_token or hexes()
        self.store = TaskRouterStore(
            account_sid=self.account_sid,
            workspace_sid=workspace_sid or "WS" + hexes(),
            clock=clock or system_clock,
            max_attributes_bytes=max_attributes_bytes,
            rng=rng,
        )
        self.faults = FaultInjector()
        self.request_log: deque[tuple[str, str]] = deque(maxlen=10_000)
        self.app = create_app(self)

    @property
    def workspace_sid(self) -> str:
        return self.store.workspace_sid

    def client(self, base_url: str) -> Client:
        """The real ``twilio.rest.Client`` pointed at this sandbox served at ``base_url``."""
        return rest_client(self.account_sid, self.auth_token, api_base=base_url)

    # ----- the control API -------------------------------------------------------------

    def create_task(self, attributes: Mapping[str, Any], **options: Any) -> str:
        """A task as a Studio flow or Flex channel would create it; returns its sid."""
        return self.store.create_task(json.dumps(dict(attributes)), **options).sid

    def task(self, sid: str) -> Task:
        return self.store.get_task(sid)

    def attributes(self, sid: str) -> dict[str, Any]:
        """The task's attributes, parsed."""
        value: dict[str, Any] = json.loads(self.store.get_task(sid).attributes)
        return value

    def set_attributes(self, sid: str, attributes: Mapping[str, Any]) -> None:
        """Change attributes as another system would (bumps the version: a new ETag)."""
        self.store.update_task(sid, None, {"Attributes": json.dumps(dict(attributes))})

    def delete_task(self, sid: str) -> None:
        self.store.delete_task(sid)

    def create_worker(
        self, friendly_name: str, attributes: Mapping[str, Any] | None = None
    ) -> Worker:
        return self.store.create_worker(friendly_name, json.dumps(dict(attributes or {})))

    def requests(self, method: str | None = None) -> list[tuple[str, str]]:
        """Authenticated API requests seen, oldest first."""
        return [r for r in self.request_log if method is None or r[0] == method]


def serve(host: str = "127.0.0.1", port: int = 8091, *, seed: int | None = 1) -> None:
    """Run a sandbox until interrupted (``threadline sandbox twilio``)."""
    from werkzeug.serving import make_server

    sandbox = TwilioSandbox(seed=seed)
    server = make_server(host, port, sandbox.app, threaded=True)
    log.info(
        "sandbox.twilio_serving",
        extra={
            "url": f"http://{host}:{server.server_port}",
            "account_sid": sandbox.account_sid,
            "workspace_sid": sandbox.workspace_sid,
        },
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()
