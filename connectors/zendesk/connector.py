"""The ``zendesk`` connector: tickets (e-mail, web form, messaging / chat) as interactions.

One ticket is one timeline entry (``ticket`` object type) whose status follows the
ticket (``new``, ``open``, ``pending``, ``hold``, ``solved``, ``closed``): the ones not
solved or closed are the customer's open items. The requester is the contact (e-mail,
phone and ``key:zendesk_user``), through a ``user`` contact record that also carries
the name. A new ticket is a screen-pop trigger.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.zendesk.client import ZendeskClient
from connectors.zendesk.inbound import ZendeskEndpoint
from hub.plugin import (
    Change,
    Connector,
    Ignored,
    InboundEndpoint,
    InboundEvent,
    PopTrigger,
    SourceRecord,
)
from hub.transforms import parse_datetime

_CHAT_WORDS = (
    "chat",
    "messaging",
    "widget",
    "sdk",
    "whatsapp",
    "messenger",
    "instagram",
    "sunshine",
)
_VOICE_WORDS = ("voice", "phone", "call")


def channel_of(via: str | None) -> str:
    """Zendesk's ``via`` ("Web Form", "Mail", "Chat", "Native Messaging", "voice", …)
    as a timeline channel: chat for live channels, voice for Talk, else email."""
    text = (via or "").lower()
    if any(word in text for word in _CHAT_WORDS):
        return "chat"
    if any(word in text for word in _VOICE_WORDS):
        return "voice"
    return "email"


class ZendeskApi(BaseModel):
    """Optional: fill in requesters that webhooks name only by id."""

    model_config = ConfigDict(extra="forbid")

    subdomain: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    email: str = Field(min_length=3)
    api_token: SecretStr = Field(min_length=8)


class ZendeskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The webhook's signing secret (Admin Center → Webhooks → the webhook → Reveal secret).
    signing_secret: SecretStr = Field(min_length=8)
    previous_signing_secrets: list[SecretStr] = Field(default_factory=list)
    #: Zendesk prescribes no window; None checks the signature only.
    tolerance_seconds: int | None = Field(default=300, ge=30)
    api: ZendeskApi | None = None


class ZendeskConnector(Connector):
    type_name = "zendesk"
    description = "Zendesk tickets and messaging conversations: interactions, open items, pops"
    settings_model = ZendeskSettings
    object_types = ("user", "ticket")

    def __init__(self, name: str, settings: BaseModel) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, ZendeskSettings)
        secrets = [
            s.get_secret_value()
            for s in (settings.signing_secret, *settings.previous_signing_secrets)
        ]
        tolerance = (
            timedelta(seconds=settings.tolerance_seconds) if settings.tolerance_seconds else None
        )
        self._endpoint = ZendeskEndpoint(secrets, tolerance)
        api = settings.api
        self.client = (
            ZendeskClient(
                api.subdomain, api.email, api.api_token.get_secret_value(), connector=name
            )
            if api is not None
            else None
        )

    def inbound_endpoints(self) -> Sequence[InboundEndpoint]:
        return [self._endpoint]

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        payload = event.payload
        if "ticket" not in payload:
            return [Ignored(f"no handler for {event.event_type!r}")]
        ticket: dict[str, Any] = payload["ticket"]
        requester = self._requester(dict(payload.get("requester") or {}))
        updated = parse_datetime(ticket.get("updated_at"))
        created = parse_datetime(ticket.get("created_at")) or updated
        channel = channel_of(ticket.get("via"))
        changes: list[Change] = []
        if requester.get("id"):
            changes.append(SourceRecord("user", requester["id"], requester, updated))
        record = {
            **ticket,
            "channel": channel,
            "occurred_at": created.isoformat() if created else None,
            "requester": requester,
            "last_event": payload.get("event"),
        }
        if payload.get("event") == "ticket.commented":
            record["last_comment_at"] = updated.isoformat() if updated else None
        changes.append(SourceRecord("ticket", ticket["id"], record, updated))
        if payload.get("event") == "ticket.created":
            changes.append(self._pop(ticket, requester, channel, created))
        return changes

    def _requester(self, requester: dict[str, Any]) -> dict[str, Any]:
        """Hydrate a requester known only by id, when the API is configured."""
        if (
            self.client is None
            or not requester.get("id")
            or requester.get("email")
            or requester.get("phone")
        ):
            return requester
        self.context.count_api_call()
        found = self.client.user(str(requester["id"]))
        return {**requester, **{k: v for k, v in (found or {}).items() if v}}

    @staticmethod
    def _pop(
        ticket: dict[str, Any], requester: dict[str, Any], channel: str, at: Any
    ) -> PopTrigger:
        keys: list[tuple[str, str]] = []
        if requester.get("id"):
            keys.append(("key:zendesk_user", str(requester["id"])))
        if requester.get("email"):
            keys.append(("email", str(requester["email"]).strip().lower()))
        return PopTrigger(
            key=f"ticket.created:{ticket['id']}",
            trigger="ticket.created",
            interaction=("ticket", ticket["id"]),
            contact_keys=tuple(keys),
            channel=channel,
            agent=ticket.get("assignee"),
            desk=ticket.get("group"),
            triggered_at=at,
        )
