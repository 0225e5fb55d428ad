"""Helpers for the HubSpot connector tests: a hub runtime whose ``hs`` connector talks
to the sandbox on loopback, and HubSpot-signed requests built with the SDK's own
``Signature`` (so a test never signs with the code it is checking)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hubspot.utils.signature import Signature

from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.sandbox import HubSpotSandbox
from hub.registry import register_connector_type
from hub.runtime import Runtime

REPO = Path(__file__).resolve().parents[3]
SECRET = "app-client-secret-0123456789"
NAME = "hs"


def hs_settings(sandbox: HubSpotSandbox, url: str, **overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "portal_id": sandbox.portal_id,
        "access_token": sandbox.private_app_token,
        "app_client_secret": SECRET,
        "api_host": url,
        "rate_limits": {
            "retry_base_seconds": 0.01,
            "max_wait_seconds": 5,
            "search_per_second": 1000,
            "per_ten_seconds": 10_000,
        },
    }
    settings.update(overrides)
    return settings


def hs_runtime(
    make_runtime: Callable[..., Runtime], sandbox: HubSpotSandbox, url: str, **overrides: Any
) -> Runtime:
    register_connector_type(HubSpotConnector)
    return make_runtime(
        connectors=[
            {"name": NAME, "type": "hubspot", "settings": hs_settings(sandbox, url, **overrides)}
        ],
        hub={"mappings_dir": str(REPO / "mappings")},
    )


def connector(runtime: Runtime) -> HubSpotConnector:
    found = runtime.connectors[NAME]
    assert isinstance(found, HubSpotConnector)
    return found


def event(
    subscription_type: str,
    object_id: int,
    *,
    event_id: int = 1,
    portal_id: int = 62515,
    occurred_at: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One webhook event shaped like HubSpot's (../shared/protocols.md §1.1)."""
    return {
        "eventId": event_id,
        "subscriptionId": 77,
        "portalId": portal_id,
        "appId": 54321,
        "occurredAt": occurred_at or int(time.time() * 1000),
        "subscriptionType": subscription_type,
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM_UI",
        **extra,
    }


def signed(
    url: str,
    body: bytes | str,
    *,
    method: str = "POST",
    secret: str = SECRET,
    timestamp_ms: int | None = None,
) -> dict[str, str]:
    """v3 headers from ``hubspot.utils.signature.Signature`` for ``method url body``."""
    text = body.decode() if isinstance(body, bytes) else body
    stamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    signature = Signature.get_signature(
        secret, text, "v3", http_uri=url, http_method=method, timestamp=stamp
    )
    return {
        "X-HubSpot-Signature-v3": signature,
        "X-HubSpot-Request-Timestamp": stamp,
        "Content-Type": "application/json",
    }


def post_events(
    client: Any, events: list[dict[str, Any]], *, path: str = "/webhooks/hs", **sign: Any
) -> Any:
    body = json.dumps(events, separators=(",", ":"))
    headers = signed(f"http://localhost{path}", body, **sign)
    return client.post(path, data=body, headers=headers)


def inbox_count(runtime: Runtime) -> int:
    from sqlalchemy import func, select

    from hub.store.models import InboxEvent

    with runtime.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def drain(runtime: Runtime) -> int:
    from hub.worker import Worker

    worker, total = Worker(runtime), 0
    while (n := worker.run_once()) > 0:
        total += n
    return total
