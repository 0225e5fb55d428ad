"""The Standard Webhooks endpoint: verify with the ``standardwebhooks`` package, then
check the body against the documented shapes so a malformed event is a 400 at the
door rather than a dead letter later."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError
from standardwebhooks.webhooks import Webhook

from connectors.standard_webhooks import payloads
from hub.plugin import InboundEndpoint, InboundEvent
from webhooks import PayloadError, RawRequest
from webhooks.standard import verify

_SHAPES: dict[str, type[BaseModel]] = {
    **{t: payloads.ContactData for t in payloads.CONTACT_TYPES},
    **{t: payloads.DeletionData for t in payloads.DELETE_TYPES},
    **{t: payloads.InteractionData for t in payloads.INTERACTION_TYPES},
}


def _describe(exc: ValidationError, prefix: str) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "")
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


class StandardWebhooksEndpoint(InboundEndpoint):
    """``POST /webhooks/<name>``; ``webhook-id`` is the idempotency key."""

    def __init__(self, verifiers: list[Webhook], name: str = "") -> None:
        super().__init__(name)
        self._verifiers = verifiers

    def verify(self, raw: RawRequest) -> None:
        # Several secrets accept a rotation in progress: any one that verifies will do.
        errors = []
        for verifier in self._verifiers:
            try:
                verify(raw, verifier)
                return
            except Exception as exc:  # noqa: BLE001 - re-raised below as the last error
                errors.append(exc)
        raise errors[-1]

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        try:
            document: Any = json.loads(raw.body)
        except (ValueError, UnicodeDecodeError):
            raise PayloadError("body is not valid JSON") from None
        if not isinstance(document, dict):
            raise PayloadError("body must be a JSON object with type and data")
        try:
            envelope = payloads.Envelope.model_validate(document)
        except ValidationError as exc:
            raise PayloadError(_describe(exc, "")) from None
        shape = _SHAPES.get(envelope.type)
        if shape is not None:
            try:
                shape.model_validate(envelope.data)
            except ValidationError as exc:
                raise PayloadError(_describe(exc, "data")) from None
        key = raw.header("webhook-id") or ""
        return [InboundEvent(key=key, event_type=envelope.type, payload=document)]
