"""Deliver signed webhook batches the way HubSpot's Webhooks API does.

Facts (../shared/protocols.md §1.1-1.2): a POST of a JSON array of at most 100 events;
``X-HubSpot-Signature`` (v1: sha256 hex of secret + body) with
``X-HubSpot-Signature-Version: v1``, and ``X-HubSpot-Signature-v3`` (base64 HMAC of
method + URI + body + timestamp) with ``X-HubSpot-Request-Timestamp`` in ms; retries on
connection failure, a timeout or any non-2xx, with ``attemptNumber`` incrementing. The
schedule and timeout are configurable so tests can use tiny delays.

Signatures come from ``hubspot.utils.signature.Signature`` so they match HubSpot's SDK.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import requests
from hubspot.utils.signature import Signature

from .schema import OBJECT_TYPES
from .store import ChangeEvent
from .timeutil import Clock

log = logging.getLogger(__name__)

USER_AGENT = ("HubSpot Connect 2.0 (http://dev.hubspot.com/) "
              "(namespace: webhooks-nio-http-client) - WebhooksExecutorDaemon-executor")
# HubSpot's v3 guide: these escapes are decoded in the URI that is signed.
_V3_DECODE = {"%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
              "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";"}


@dataclass(frozen=True)
class Subscription:
    """A webhook subscription; ``property_name=None`` on propertyChange means every property
    (a sandbox convenience: HubSpot needs one subscription per property)."""

    id: int
    event_type: str  # e.g. "contact.creation"
    property_name: str | None = None


DEFAULT_SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription(1001, "contact.creation"), Subscription(1002, "contact.deletion"),
    Subscription(1003, "contact.merge"), Subscription(1004, "contact.propertyChange"),
    Subscription(2001, "company.creation"), Subscription(2002, "company.deletion"),
    Subscription(2003, "company.merge"), Subscription(2004, "company.propertyChange"),
)
DEFAULT_RETRY_DELAYS = (60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 4800.0, 9600.0,
                        19200.0, 43200.0)  # 10 retries over ~23 h [D: count; U: spacing]


@dataclass(frozen=True)
class WebhookSettings:
    """Where and how to deliver: target, app credentials, batching and retry policy."""

    target_url: str
    client_secret: str
    app_id: int = 54321
    subscriptions: tuple[Subscription, ...] = DEFAULT_SUBSCRIPTIONS
    retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    timeout: float = 5.0
    max_batch: int = 100
    property_changes_on_create: bool = True
    no_retry_statuses: frozenset[int] = frozenset()


@dataclass
class Delivery:
    """One POST attempt, kept for assertions (``sandbox.webhooks.deliveries``)."""

    attempt: int
    event_count: int
    status: int | None
    error: str | None = None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def sign_headers(settings: WebhookSettings, body: bytes, timestamp_ms: int) -> dict[str, str]:
    """v1 and v3 signature headers over the exact bytes and URL being sent."""
    text = body.decode("utf-8")
    uri = settings.target_url
    for escape, char in _V3_DECODE.items():
        uri = uri.replace(escape, char)
    return {
        "X-HubSpot-Signature": Signature.get_signature(settings.client_secret, text, "v1"),
        "X-HubSpot-Signature-Version": "v1",
        "X-HubSpot-Signature-v3": Signature.get_signature(
            settings.client_secret, text, "v3", http_uri=uri, http_method="POST",
            timestamp=str(timestamp_ms)),
        "X-HubSpot-Request-Timestamp": str(timestamp_ms),
    }


class WebhookDispatcher:
    """Queues change events as HubSpot subscription events and POSTs them in batches."""

    def __init__(self, settings: WebhookSettings, clock: Clock, portal_id: int) -> None:
        self.settings = settings
        self.clock = clock
        self.portal_id = portal_id
        self.deliveries: list[Delivery] = []
        self.gave_up: list[list[dict[str, Any]]] = []
        self._pending: deque[dict[str, Any]] = deque()
        self._retries: list[tuple[float, int, list[dict[str, Any]]]] = []
        self._next_event_id = 1
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._session = requests.Session()

    # ---- building events ----------------------------------------------------------------

    def on_change(self, change: ChangeEvent) -> None:
        """Store listener: turn one change into zero or more subscription events."""
        prefix = OBJECT_TYPES[change.object_type].webhook_prefix
        if prefix is None:
            return  # the legacy Webhooks API has no engagement subscriptions
        if change.on_create and not self.settings.property_changes_on_create:
            return
        event_type = f"{prefix}.{change.kind}"
        for sub in self.settings.subscriptions:
            if sub.event_type != event_type:
                continue
            if change.kind == "propertyChange" and sub.property_name not in (
                    None, change.property_name):
                continue
            self._enqueue(self._event(sub, change))

    def _event(self, sub: Subscription, change: ChangeEvent) -> dict[str, Any]:
        with self._lock:
            event_id = self._next_event_id
            self._next_event_id += 1
        event: dict[str, Any] = {
            "eventId": event_id, "subscriptionId": sub.id, "portalId": self.portal_id,
            "appId": self.settings.app_id, "occurredAt": change.occurred_ms,
            "subscriptionType": sub.event_type, "attemptNumber": 0,
            "objectId": change.object_id, "changeSource": change.change_source,
        }
        if change.kind == "creation":
            event["changeFlag"] = "NEW"
        elif change.kind == "propertyChange":
            event["propertyName"] = change.property_name
            event["propertyValue"] = change.property_value or ""
        elif change.kind == "merge":
            event.update(change.merge)
        return event

    def _enqueue(self, event: dict[str, Any]) -> None:
        with self._wake:
            self._pending.append(event)
            self._wake.notify()

    # ---- sending ------------------------------------------------------------------------

    def _send(self, events: list[dict[str, Any]], attempt: int) -> bool:
        settings = self.settings
        batch = [{**e, "attemptNumber": attempt} for e in events]
        body = json.dumps(batch, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-HubSpot-Timeout-Millis": str(int(settings.timeout * 1000)),
                   **sign_headers(settings, body, int(time.time() * 1000))}
        status: int | None = None
        error: str | None = None
        try:
            response = self._session.post(settings.target_url, data=body, headers=headers,
                                          timeout=settings.timeout)
            status = response.status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        self.deliveries.append(Delivery(attempt, len(batch), status, error, body, headers))
        ok = status is not None and 200 <= status < 300
        if not ok:
            log.info("sandbox.webhook_failed", extra={"status": status, "attempt": attempt,
                                                      "error": error})
            retryable = status not in settings.no_retry_statuses
            if retryable and attempt < len(settings.retry_delays):
                due = time.monotonic() + settings.retry_delays[attempt]
                with self._wake:
                    self._retries.append((due, attempt + 1, events))
                    self._wake.notify()
            else:
                self.gave_up.append(batch)
        return ok

    def _take_due(self) -> list[tuple[int, list[dict[str, Any]]]]:
        """Pending events in batches of ``max_batch`` plus retries whose time has come."""
        with self._lock:
            work: list[tuple[int, list[dict[str, Any]]]] = []
            while self._pending:
                size = min(self.settings.max_batch, len(self._pending))
                work.append((0, [self._pending.popleft() for _ in range(size)]))
            now = time.monotonic()
            due = [r for r in self._retries if r[0] <= now]
            self._retries = [r for r in self._retries if r[0] > now]
            work += [(attempt, events) for _, attempt, events in due]
            return work

    def flush(self, wait_for_retries: bool = True, max_wait: float = 10.0) -> int:
        """Send everything queued now; optionally wait out retries. Returns events delivered.

        Tests call this instead of running the background thread, so delivery is
        deterministic: when it returns, every event was delivered or given up.
        """
        deadline = time.monotonic() + max_wait
        delivered = 0
        with self._send_lock:
            while True:
                for attempt, events in self._take_due():
                    if self._send(events, attempt):
                        delivered += len(events)
                with self._lock:
                    if self._pending:
                        continue
                    if not (wait_for_retries and self._retries):
                        return delivered
                    wait = min(r[0] for r in self._retries) - time.monotonic()
                if time.monotonic() + max(wait, 0) > deadline:
                    return delivered
                if wait > 0:
                    time.sleep(wait)

    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending) + sum(len(r[2]) for r in self._retries)

    # ---- background mode -----------------------------------------------------------------

    def start(self) -> None:
        """Deliver continuously from a daemon thread (the ``serve`` mode)."""
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="hubspot-sandbox-webhooks",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                if not self._pending:
                    next_due = min((r[0] for r in self._retries), default=None)
                    timeout = None if next_due is None else max(next_due - time.monotonic(), 0)
                    self._wake.wait(timeout=timeout if timeout is not None else 1.0)
                if self._stopping:
                    return
            with self._send_lock:
                for attempt, events in self._take_due():
                    self._send(events, attempt)
