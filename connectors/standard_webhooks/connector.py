"""The ``standard_webhooks`` connector: the first real connector, proving the whole path.

Any tool that signs with Standard Webhooks (webhook-id / webhook-timestamp /
webhook-signature) can post contacts and interactions in the shape documented in
this folder's README. Verification uses the ``standardwebhooks`` package (±5 min).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from standardwebhooks.webhooks import Webhook

from connectors.standard_webhooks import payloads
from connectors.standard_webhooks.inbound import StandardWebhooksEndpoint
from hub.plugin import (
    Change,
    Connector,
    Ignored,
    InboundEndpoint,
    InboundEvent,
    PopTrigger,
    SourceDeletion,
    SourceRecord,
)
from hub.transforms import parse_datetime
from webhooks.standard import make_verifier


class StandardWebhooksSettings(BaseModel):
    """``secret`` is the ``whsec_…`` signing secret; ``previous_secrets`` during rotation."""

    model_config = ConfigDict(extra="forbid")

    secret: SecretStr
    previous_secrets: list[SecretStr] = Field(default_factory=list)

    @field_validator("secret", "previous_secrets")
    @classmethod
    def _usable(cls, value: Any) -> Any:
        for item in value if isinstance(value, list) else [value]:
            try:
                make_verifier(item.get_secret_value())
            except Exception as exc:  # noqa: BLE001 - any decoding failure is a config error
                raise ValueError(f"not a usable Standard Webhooks secret ({exc})") from None
        return value


class StandardWebhooksConnector(Connector):
    type_name = "standard_webhooks"
    description = "Contacts and interactions from any tool that sends Standard Webhooks"
    settings_model = StandardWebhooksSettings
    object_types = ("contact", "interaction")

    def __init__(self, name: str, settings: BaseModel) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, StandardWebhooksSettings)
        secrets = [settings.secret, *settings.previous_secrets]
        self._verifiers: list[Webhook] = [make_verifier(s.get_secret_value()) for s in secrets]

    def inbound_endpoints(self) -> Sequence[InboundEndpoint]:
        return [StandardWebhooksEndpoint(self._verifiers)]

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        data: dict[str, Any] = event.payload.get("data", {})
        sent_at = parse_datetime(event.payload.get("timestamp"))
        if event.event_type in payloads.CONTACT_TYPES:
            updated = parse_datetime(data.get("updated_at")) or sent_at
            return [SourceRecord("contact", str(data["id"]), data, updated)]
        if event.event_type in payloads.DELETE_TYPES:
            deleted = parse_datetime(data.get("deleted_at")) or sent_at
            return [SourceDeletion("contact", str(data["id"]), deleted)]
        if event.event_type in payloads.INTERACTION_TYPES:
            updated = parse_datetime(data.get("updated_at")) or sent_at
            record = SourceRecord("interaction", str(data["id"]), data, updated)
            if event.event_type != "interaction.started":
                return [record]
            pop = PopTrigger(  # someone is reaching an agent: the moment for a screen pop
                key=f"started:{data['id']}",
                trigger="interaction.started",
                interaction=("interaction", str(data["id"])),
                channel=data.get("channel"),
                agent=data.get("agent"),
                desk=data.get("desk"),
                triggered_at=parse_datetime(data.get("occurred_at")),
            )
            return [record, pop]
        return [Ignored(f"no handler for event type {event.event_type!r}")]
