"""Developer helpers used by the CLI and the demo: sign and send a test event."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import requests
from standardwebhooks.webhooks import Webhook


def sign_standard_webhook(secret: str, body: str, msg_id: str | None = None) -> dict[str, str]:
    """Headers for ``body`` signed now with ``secret`` (as any Standard Webhooks sender)."""
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, now, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def send_standard_webhook(secret: str, connector: str, base_url: str, body: str) -> tuple[int, str]:
    """Sign ``body`` and post it to ``/webhooks/<connector>``; return (status, text)."""
    try:
        json.loads(body)  # fail early on a typo rather than posting it
    except ValueError as exc:
        raise SystemExit(f"the event is not valid JSON: {exc}") from None
    headers = sign_standard_webhook(secret, body)
    response = requests.post(
        f"{base_url.rstrip('/')}/webhooks/{connector}",
        data=body.encode(),
        headers=headers,
        timeout=10,
    )
    return response.status_code, response.text
