"""Push targets the hub itself provides: the agent panel and signed webhooks."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook

from hub.errors import FatalConnectorError, RetriableError, SkippableError
from hub.http_guard import Guard, UnsafeTargetError, guarded_post
from hub.panel_bus import LocalBus
from hub.plugin import PushTarget
from hub.settings import PopWebhook


def audience_of(payload: Mapping[str, Any]) -> str:
    """Who a pop is for: the agent when known, else the desk, else everyone."""
    trigger = payload.get("trigger") or {}
    if trigger.get("agent"):
        return f"agent:{trigger['agent']}"
    if trigger.get("desk"):
        return f"desk:{trigger['desk']}"
    return "all"


class PanelTarget(PushTarget):
    """Publishes the pop to agent-panel streams (``/agent``)."""

    name = "panel"

    def __init__(self, bus: LocalBus) -> None:
        self.bus = bus

    def push(self, payload: Mapping[str, Any], idempotency_key: str) -> str | None:
        # Duplicates are harmless here: the panel keys pops by pop_id.
        self.bus.publish(audience_of(payload), dict(payload))
        return None


class SignedWebhookTarget(PushTarget):
    """POSTs the pop, signed with Standard Webhooks; webhook-id is the idempotency key,
    so the receiver can drop a retry it already has."""

    def __init__(self, config: PopWebhook) -> None:
        self.name = f"webhook:{config.name}"  # type: ignore[misc]
        self.config = config
        self.guard = Guard.build(config.allow_private, config.allow_cidrs)
        self.signer = Webhook(config.secret)

    def push(self, payload: Mapping[str, Any], idempotency_key: str) -> str | None:
        body = json.dumps({"type": "pop.created", "data": payload}, default=str)
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": idempotency_key,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.signer.sign(idempotency_key, now, body),
        }
        try:
            response = guarded_post(
                self.config.url,
                data=body.encode(),
                headers=headers,
                guard=self.guard,
                timeout=self.config.timeout_seconds,
            )
        except UnsafeTargetError as exc:  # it will not become safe by retrying
            raise SkippableError(str(exc), code="unsafe_target") from None
        except requests.RequestException as exc:
            raise RetriableError(f"{type(exc).__name__} posting to the webhook") from None
        return self._outcome(response)

    @staticmethod
    def _outcome(response: requests.Response) -> str | None:
        status = response.status_code
        if 200 <= status < 300:
            return None
        if status == 410:  # the receiver asked to be disabled (Standard Webhooks spec)
            raise SkippableError("the webhook receiver answered 410 Gone")
        retry_after = response.headers.get("Retry-After")
        seconds = float(retry_after) if retry_after and retry_after.isdigit() else None
        if status == 429 or status >= 500:
            raise RetriableError(f"webhook receiver answered {status}", retry_after=seconds)
        if 300 <= status < 400:
            raise FatalConnectorError(
                f"webhook receiver redirected ({status}); redirects are "
                "never followed: configure the final URL"
            )
        raise FatalConnectorError(f"webhook receiver answered {status}")
