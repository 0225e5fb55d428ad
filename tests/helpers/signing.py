"""Sign requests exactly as a Standard Webhooks sender does (the vendor's own package)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from standardwebhooks.webhooks import Webhook

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def signed(
    payload: Any,
    *,
    msg_id: str | None = None,
    secret: str = SECRET,
    skew: timedelta = timedelta(0),
) -> tuple[bytes, dict[str, str]]:
    """Body bytes and headers for ``payload`` (a dict, or raw bytes/str sent as is)."""
    if isinstance(payload, bytes | str):
        body = payload.encode() if isinstance(payload, str) else payload
    else:
        body = json.dumps(payload).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = datetime.now(UTC) + skew
    signature = Webhook(secret).sign(msg_id, when, body.decode("utf-8", "replace"))
    return body, {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


def contact_event(contact_id: str = "c-1", **data: Any) -> dict[str, Any]:
    body = {
        "id": contact_id,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "emails": ["Ada@Example.com"],
        "phones": ["(415) 555-0142"],
        "updated_at": "2026-11-01T10:00:00Z",
    }
    body.update(data)
    return {"type": "contact.updated", "timestamp": "2026-11-01T10:00:00Z", "data": body}


def interaction_event(interaction_id: str = "i-1", **data: Any) -> dict[str, Any]:
    body = {
        "id": interaction_id,
        "channel": "voice",
        "direction": "inbound",
        "occurred_at": "2026-11-01T10:05:00Z",
        "status": "ringing",
        "summary": "Billing question",
        "agent": "agent-7",
        "contact": {"phone": "+1 415 555 0142"},
    }
    body.update(data)
    return {"type": "interaction.started", "timestamp": "2026-11-01T10:05:00Z", "data": body}
