"""``HubSpotSandbox``: one fake HubSpot portal with a Python API for tests, and ``serve``."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from .app import create_app
from .faults import FaultInjector
from .oauth import OAuthApp, TokenRegistry
from .ratelimit import RateLimiter, RateLimits
from .schema import OBJECT_TYPES, validate_properties
from .search import SearchCap
from .seed import SeedCounts, seed_store
from .store import CRMStore, Record
from .timeutil import Clock, system_clock
from .webhooks_out import WebhookDispatcher, WebhookSettings

log = logging.getLogger(__name__)

DEFAULT_PRIVATE_APP_TOKEN = "pat-na1-00000000-0000-4000-8000-000000000000"  # noqa: S105


class HubSpotSandbox:
    """A fake portal: CRM store, OAuth, rate limits, faults and webhook delivery.

    ``HubSpotSandbox(seed=7, counts=SeedCounts(contacts=500))`` is deterministic; point
    ``hubspot.Client.create(access_token=sb.private_app_token, host=url)`` at ``sb.app``
    served on loopback (``hub.sandbox_server.run_in_thread``).
    """

    def __init__(self, *, seed: int | None = None, counts: SeedCounts | None = None,
                 portal_id: int = 62515, app_id: int = 54321, clock: Clock | None = None,
                 rate_limits: RateLimits | None = None, search_cap: SearchCap | None = None,
                 oauth_app: OAuthApp | None = None,
                 private_app_token: str = DEFAULT_PRIVATE_APP_TOKEN) -> None:
        self.clock: Clock = clock or system_clock
        self.portal_id = portal_id
        self.app_id = app_id
        self.store = CRMStore(self.clock)
        self.oauth = TokenRegistry(oauth_app or OAuthApp(), self.clock, portal_id, app_id)
        self.private_app_token = self.oauth.add_private_app_token(private_app_token)
        self.ratelimiter = RateLimiter(rate_limits or RateLimits(), self.clock, portal_id, app_id)
        self.search_cap = search_cap or SearchCap()
        self.faults = FaultInjector(
            f"publicapi:private_app-api-calls-ten-secondly:{app_id}:{portal_id}")
        self.webhooks: WebhookDispatcher | None = None
        self.request_log: deque[tuple[str, str]] = deque(maxlen=10_000)
        if seed is not None or counts is not None:
            seed_store(self.store, seed or 0, counts or SeedCounts())
        self.app = create_app(self)

    # ---- webhooks -----------------------------------------------------------------------

    def configure_webhooks(self, target_url: str, client_secret: str,
                           **settings: Any) -> WebhookDispatcher:
        """Start recording change events for ``target_url`` (see ``WebhookSettings``)."""
        if self.webhooks is not None:
            self.webhooks.stop()
            self.store.listeners.remove(self.webhooks.on_change)
        config = WebhookSettings(target_url, client_secret,
                                 **{"app_id": self.app_id, **settings})
        self.webhooks = WebhookDispatcher(config, self.clock, self.portal_id)
        self.store.listeners.append(self.webhooks.on_change)
        return self.webhooks

    def flush_webhooks(self, wait_for_retries: bool = True, max_wait: float = 10.0) -> int:
        """Deliver queued events now (and wait out retries); returns events delivered."""
        if self.webhooks is None:
            raise RuntimeError("configure_webhooks() first: no target URL is set")
        return self.webhooks.flush(wait_for_retries, max_wait)

    # ---- changes "in the HubSpot UI" (faults that move data under a running sync) -------

    def create(self, object_type: str, **properties: str) -> Record:
        """Create a record as a user would in HubSpot (``changeSource`` ``CRM_UI``)."""
        obj = OBJECT_TYPES[object_type]
        values = validate_properties(obj, properties, creating=True)
        return self.store.insert(obj, values, source="CRM_UI")

    def update(self, object_type: str, object_id: int, **properties: str) -> Record:
        obj = OBJECT_TYPES[object_type]
        record = self.store.require(obj, str(object_id))
        return self.store.update(obj, record, validate_properties(obj, properties,
                                                                  creating=False), "CRM_UI")

    def archive(self, object_type: str, object_id: int) -> None:
        obj = OBJECT_TYPES[object_type]
        self.store.archive(obj, self.store.require(obj, str(object_id)), "CRM_UI")

    def merge(self, object_type: str, primary_id: int, other_id: int) -> Record:
        obj = OBJECT_TYPES[object_type]
        return self.store.merge(obj, self.store.require(obj, str(primary_id)),
                                self.store.require(obj, str(other_id)))

    def expire_tokens(self) -> None:
        """Fault: every OAuth access token expires now; the next call gets a 401."""
        self.oauth.expire_all()

    def get(self, object_type: str, object_id: int) -> Record | None:
        return self.store.get(OBJECT_TYPES[object_type], str(object_id))


def serve(host: str = "127.0.0.1", port: int = 8089, *, seed: int | None = 1,
          counts: SeedCounts | None = None, webhook_url: str | None = None,
          client_secret: str | None = None, **sandbox_options: Any) -> None:
    """Run a sandbox until interrupted (the ``threadline sandbox hubspot`` command).

    With ``webhook_url`` and ``client_secret`` the sandbox posts signed webhook batches
    from a background thread whenever records change.
    """
    from werkzeug.serving import make_server

    sandbox = HubSpotSandbox(seed=seed, counts=counts, **sandbox_options)
    if webhook_url:
        if not client_secret:
            raise ValueError("client_secret is required to sign webhooks for webhook_url")
        sandbox.configure_webhooks(webhook_url, client_secret).start()
    server = make_server(host, port, sandbox.app, threaded=True)
    log.info("sandbox.hubspot_serving", extra={"url": f"http://{host}:{server.server_port}",
                                                "portal_id": sandbox.portal_id})
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if sandbox.webhooks is not None:
            sandbox.webhooks.stop()
