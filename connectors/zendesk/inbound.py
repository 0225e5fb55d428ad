"""The Zendesk webhook endpoint: signature check, then two payload shapes.

Zendesk signs ``timestamp + body`` (``X-Zendesk-Webhook-Signature`` and
``-Timestamp``, ``webhooks/zendesk.py``; protocols.md §5.1). What the body holds depends
on how the webhook is fed:

* **trigger / automation webhooks** send a body the admin writes with placeholders.
  We document one (README.md, ``"threadline": 1``) and parse exactly that.
* **event-subscription webhooks** send Zendesk's fixed envelope,
  ``{"type": "zen:event-type:ticket.created", "id", "time", "detail": {...ticket},
  "event": {...}}``; the ticket in ``detail`` names its requester only by id.

Both are normalised here into one payload so the worker has one code path. Keys: the
envelope's event ``id``; for template bodies the invocation id header when Zendesk sends
it (protocols.md §7), else a hash of the signed body (the body carries the ticket's
``updated_at``, so two real updates differ and a retry does not).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from hub.plugin import InboundEndpoint, InboundEvent
from webhooks import PayloadError, RawRequest
from webhooks.zendesk import verify_zendesk

EVENT_PREFIX = "zen:event-type:"
TEMPLATE_EVENTS = {"ticket.created", "ticket.updated", "ticket.commented"}
#: Event-subscription types and the template event they amount to.
SUBSCRIPTION_EVENTS = {
    "ticket.created": "ticket.created",
    "ticket.comment_added": "ticket.commented",
}
INVOCATION_HEADER = "x-zendesk-webhook-invocation-id"


def _text(value: Any, limit: int = 500) -> str | None:
    """Placeholders render as strings; an empty one (no phone, no group) is absent."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text[:limit] if text and not text.startswith("{{") else None
    return None


def _ticket_id(value: Any) -> str:
    text = _text(value, 32)
    if text is None or not text.isdigit():
        raise PayloadError("ticket id must be a number")
    return text


def _obj(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object")
    return value


def from_template(document: dict[str, Any]) -> dict[str, Any]:
    """Our documented trigger body (README.md) → the normalised payload."""
    event = document.get("event")
    if event not in TEMPLATE_EVENTS:
        raise PayloadError(f"event must be one of {', '.join(sorted(TEMPLATE_EVENTS))}")
    ticket = _obj(document.get("ticket"), "ticket")
    requester = _obj(document.get("requester"), "requester")
    comment = _obj(document.get("comment"), "comment")
    fields = (
        "subject",
        "status",
        "via",
        "priority",
        "created_at",
        "updated_at",
        "group",
        "assignee",
        "url",
    )
    return {
        "event": event,
        "ticket": {"id": _ticket_id(ticket.get("id")), **{f: _text(ticket.get(f)) for f in fields}},
        "requester": {f: _text(requester.get(f)) for f in ("id", "name", "email", "phone")},
        "comment": {"public": _text(comment.get("public")), "author": _text(comment.get("author"))},
    }


def from_subscription(document: dict[str, Any]) -> dict[str, Any]:
    """Zendesk's event-subscription envelope → the normalised payload."""
    kind = str(document["type"]).removeprefix(EVENT_PREFIX)
    detail = _obj(document.get("detail"), "detail")
    via = _obj(detail.get("via"), "detail.via")
    event = _obj(document.get("event"), "event")
    comment = _obj(event.get("comment"), "event.comment")
    author = _obj(comment.get("author"), "event.comment.author")
    return {
        "event": SUBSCRIPTION_EVENTS.get(kind, "ticket.updated"),
        "subscription_type": kind,
        "ticket": {
            "id": _ticket_id(detail.get("id")),
            "subject": _text(detail.get("subject")),
            "status": _text(detail.get("status")),
            "via": _text(via.get("channel")),
            "priority": _text(detail.get("priority")),
            "created_at": _text(detail.get("created_at")),
            "updated_at": _text(detail.get("updated_at")) or _text(document.get("time")),
            "group": _text(detail.get("group_id")),
            "assignee": _text(detail.get("assignee_id")),
            "url": None,
        },
        "requester": {
            "id": _text(detail.get("requester_id")),
            "name": None,
            "email": None,
            "phone": None,
        },
        "comment": {"public": _text(comment.get("is_public")), "author": _text(author.get("id"))},
    }


class ZendeskEndpoint(InboundEndpoint):
    """``POST /webhooks/<name>``: trigger or event-subscription webhooks."""

    def __init__(self, secrets: Sequence[str], tolerance: timedelta | None) -> None:
        super().__init__("")
        self._secrets = tuple(secrets)
        self._tolerance = tolerance

    def verify(self, raw: RawRequest) -> None:
        verify_zendesk(raw, self._secrets, tolerance=self._tolerance)

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        try:
            document: Any = json.loads(raw.body)
        except (ValueError, RecursionError):
            raise PayloadError("body is not valid JSON") from None
        if not isinstance(document, dict):
            raise PayloadError("body must be a JSON object")
        kind = document.get("type")
        if isinstance(kind, str) and kind.startswith(EVENT_PREFIX):
            event_id = _text(document.get("id"), 200)
            if event_id is None:
                raise PayloadError("an event-subscription body needs its event id")
            if not kind.removeprefix(EVENT_PREFIX).startswith("ticket."):
                return [InboundEvent(f"event:{event_id}", kind, {"type": kind})]
            return [InboundEvent(f"event:{event_id}", kind, from_subscription(document))]
        if document.get("threadline") == 1:
            payload = from_template(document)
            invocation = raw.header(INVOCATION_HEADER)
            key = (
                invocation
                if invocation and len(invocation) < 200
                else hashlib.sha256(raw.body).hexdigest()
            )
            return [InboundEvent(f"trigger:{key}", str(payload["event"]), payload)]
        raise PayloadError("not a Threadline trigger body nor a zen:event-type envelope")
