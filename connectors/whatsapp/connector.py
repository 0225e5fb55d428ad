"""The ``whatsapp`` connector: WhatsApp Cloud API messages and statuses (Meta webhooks).

Every inbound message becomes a ``message`` interaction (channel whatsapp) on the
contact found by the sender's ``wa_id`` (its phone number, E.164 once a ``+`` is
added) and a ``profile`` contact record carrying the WhatsApp profile name. The first
message of a new conversation is also a screen-pop trigger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.twilio.redact import BodyPolicy
from connectors.whatsapp.inbound import WhatsAppEndpoint
from hub.plugin import (
    Change,
    Connector,
    Ignored,
    InboundEndpoint,
    InboundEvent,
    PopTrigger,
    SourceRecord,
)

#: Delivery receipts in their natural order; the rank breaks ties within one second.
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "failed": 4}


class WhatsAppSettings(BaseModel):
    """``app_secret`` signs notifications; ``verify_token`` is the string typed into
    the App Dashboard for the subscription handshake."""

    model_config = ConfigDict(extra="forbid")

    app_secret: SecretStr = Field(min_length=8)
    previous_app_secrets: list[SecretStr] = Field(default_factory=list)
    verify_token: SecretStr = Field(min_length=8)
    #: Business phone number ids to accept; empty accepts every number of the app.
    phone_number_ids: list[str] = Field(default_factory=list)
    body: BodyPolicy = "mask"
    #: Silence after which the customer's next message opens a new conversation
    #: (WhatsApp's customer-service window is 24 h).
    conversation_gap_hours: float = Field(default=24, gt=0, le=24 * 30)


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class WhatsAppConnector(Connector):
    type_name = "whatsapp"
    description = "WhatsApp Cloud API: inbound messages, delivery statuses, conversation starts"
    settings_model = WhatsAppSettings
    object_types = ("profile", "message")

    def __init__(self, name: str, settings: BaseModel) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, WhatsAppSettings)
        self._settings = settings
        self._gap = timedelta(hours=settings.conversation_gap_hours)
        secrets = [
            s.get_secret_value() for s in (settings.app_secret, *settings.previous_app_secrets)
        ]
        self._endpoint = WhatsAppEndpoint(
            secrets,
            settings.verify_token.get_secret_value(),
            settings.body,
            self._is_new_conversation,
        )

    def inbound_endpoints(self) -> Sequence[InboundEndpoint]:
        return [self._endpoint]

    def _is_new_conversation(self, wa_id: str, wamid: str, sent: int) -> bool:
        """First inbound message after ``conversation_gap_hours`` of silence (or ever).

        The state remembers which wamid opened the current conversation, so a retried
        delivery of that same message is still "new" (its pop is idempotent anyway).
        """
        with self.context.locked_state(f"wa:{wa_id}") as state:
            current = state.value or {}
            last = current.get("last_at")
            if current.get("opened_by") == wamid:
                return True
            new = last is None or sent - int(last) > self._gap.total_seconds()
            updated = {**current, "last_at": max(sent, int(last or 0))}
            if new:
                updated["opened_by"] = wamid
            if updated != current:
                state.set(updated)
            return new

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        payload = event.payload
        number = payload.get("phone_number_id")
        allowed = self._settings.phone_number_ids
        if allowed and number not in allowed:
            return [Ignored("notification for a phone number this connector does not serve")]
        if event.event_type == "message.received":
            return self._message(payload)
        if event.event_type.startswith("status."):
            return self._status(payload)
        return [Ignored(f"no handler for {event.event_type!r}")]

    def _message(self, payload: dict[str, Any]) -> list[Change]:
        wa_id, wamid, sent = payload["wa_id"], payload["wamid"], _at(payload["timestamp"])
        phone = "+" + wa_id
        record = {
            "wamid": wamid,
            "wa_id": wa_id,
            "phone": phone,
            "direction": "inbound",
            "status": "received",
            "occurred_at": sent.isoformat(),
            "summary": payload.get("text"),
            "type": payload.get("type"),
            "reply_to": payload.get("context_id"),
        }
        changes: list[Change] = [
            SourceRecord(
                "profile", wa_id, {"phone": phone, "name": payload.get("profile_name")}, sent
            ),
            SourceRecord("message", wamid, record, sent),
        ]
        if payload.get("new_conversation"):
            changes.append(
                PopTrigger(
                    key=f"conversation:{wamid}",
                    trigger="conversation.started",
                    interaction=("message", wamid),
                    contact_keys=(("phone", phone),),
                    channel="whatsapp",
                    triggered_at=sent,
                )
            )
        return changes

    def _status(self, payload: dict[str, Any]) -> list[Change]:
        recipient = payload.get("recipient_id")
        sent = _at(payload["timestamp"])
        record = {
            "wamid": payload["wamid"],
            "phone": f"+{recipient}"
            if isinstance(recipient, str) and recipient.isdigit()
            else None,
            "direction": "outbound",
            "status": payload["status"],
            "occurred_at": sent.isoformat(),
            "conversation_id": payload.get("conversation_id"),
            "error_code": payload.get("error_code"),
        }
        version = sent + timedelta(microseconds=STATUS_RANK.get(payload["status"], 0))
        return [SourceRecord("message", payload["wamid"], record, version)]
