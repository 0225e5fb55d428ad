"""A Zendesk webhook sender simulator.

Zendesk signs ``timestamp + body`` with HMAC-SHA256 keyed by the signing secret's
UTF-8 bytes, base64 (protocols.md §5.1), timestamp ISO-8601 in
``X-Zendesk-Webhook-Signature-Timestamp``. It retries a few times on 409 and on
429/503 with a short ``Retry-After`` [U]; ``retries`` models that.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hub.simulate import Send, SimResponse, http_sender

RETRIED = (409, 429, 503)


http_send = http_sender(timeout=12)  # Zendesk's webhook timeout


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template_body(
    event: str,
    ticket_id: int,
    *,
    requester: dict[str, str],
    subject: str = "Printer on fire",
    status: str = "Open",
    via: str = "Web Form",
    created: datetime | None = None,
    updated: datetime | None = None,
    assignee: str = "",
    group: str = "Support",
) -> dict[str, Any]:
    """The README's trigger body, as Zendesk renders it (placeholders filled in)."""
    created = created or datetime.now(UTC)
    return {
        "threadline": 1,
        "event": event,
        "ticket": {
            "id": str(ticket_id),
            "subject": subject,
            "status": status,
            "via": via,
            "priority": "Normal",
            "created_at": iso(created),
            "updated_at": iso(updated or created),
            "group": group,
            "assignee": assignee,
            "url": f"acme.zendesk.com/agent/tickets/{ticket_id}",
        },
        "requester": {"id": "", "name": "", "email": "", "phone": "", **requester},
        "comment": {"public": "true", "author": requester.get("name", "")},
    }


def subscription_body(
    kind: str, ticket_id: int, requester_id: int, *, channel: str = "web"
) -> dict[str, Any]:
    """An event-subscription envelope (``zen:event-type:ticket.*``)."""
    now = iso(datetime.now(UTC))
    return {
        "type": f"zen:event-type:{kind}",
        "account_id": 88888888,
        "id": str(uuid.uuid4()),
        "time": now,
        "zendesk_event_version": "2022-11-06",
        "subject": f"zen:ticket:{ticket_id}",
        "detail": {
            "id": str(ticket_id),
            "status": "OPEN",
            "subject": "Cannot log in",
            "requester_id": str(requester_id),
            "via": {"channel": channel},
            "created_at": now,
            "updated_at": now,
        },
        "event": {"current": {"status": "OPEN"}},
    }


class ZendeskSimulator:
    """Posts signed webhooks to ``url`` (``…/webhooks/<connector>``)."""

    def __init__(
        self,
        secret: str,
        url: str,
        send: Send | None = None,
        *,
        retries: int = 0,
        retry_delay: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.secret, self.url, self.send = secret, url, send or http_send
        self.retries, self.retry_delay, self.sleep = retries, retry_delay, sleep
        self.webhook_id = "01GK8E6BKWMJZD2T8Y5AXJQMG5"

    def post(
        self,
        document: Any,
        *,
        at: datetime | None = None,
        body: bytes | None = None,
        invocation_id: str | None = None,
    ) -> SimResponse:
        """Sign and deliver; attempts of one invocation share its invocation id."""
        raw = body if body is not None else json.dumps(document).encode()
        stamp = iso(at or datetime.now(UTC))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Zendesk Webhook",
            "X-Zendesk-Webhook-Id": self.webhook_id,
            "X-Zendesk-Webhook-Invocation-Id": invocation_id or str(uuid.uuid4().int)[:19],
            "X-Zendesk-Webhook-Signature-Timestamp": stamp,
            "X-Zendesk-Webhook-Signature": sign(self.secret, stamp, raw),
        }
        attempt = 0
        while True:
            attempt += 1
            status, answer, kind = self.send("POST", self.url, raw, headers)
            if status not in RETRIED or attempt > self.retries:
                return SimResponse(status, answer, kind.split(";")[0], attempt)
            self.sleep(self.retry_delay)
