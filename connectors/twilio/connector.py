"""The ``twilio`` connector: Voice, Messaging and TaskRouter callbacks on one account.

Endpoints (``/webhooks/<name>/<endpoint>``): ``voice`` (incoming call: answers the
configured TwiML), ``voice-status``, ``sms``, ``sms-status`` and ``taskrouter``. With
``flex_pop`` settings it also declares the ``flex_pop`` push target (the context in the
Flex task's attributes). See README.md for what to set in the Twilio console.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from twilio.twiml.voice_response import VoiceResponse

from connectors.twilio import events
from connectors.twilio.inbound import (
    SmsEndpoint,
    SmsStatusEndpoint,
    TaskRouterEndpoint,
    VoiceEndpoint,
    VoiceStatusEndpoint,
)
from connectors.twilio.redact import BodyPolicy
from connectors.twilio.targets import FlexPopSettings, FlexPopTarget
from hub.plugin import Change, Connector, Ignored, InboundEndpoint, InboundEvent, PushTarget


class VoiceSettings(BaseModel):
    """What an incoming call is told to do once it is recorded.

    ``redirect``: hand the call to the customer's existing flow (a Studio flow's
    webhook URL, their own TwiML app). ``enqueue``: put it in a TaskRouter/Flex queue
    (``<Enqueue>`` with ``workflow_sid`` when given). The same TwiML is the fallback.
    """

    model_config = ConfigDict(extra="forbid")

    mode: Literal["redirect", "enqueue"]
    redirect_url: str | None = Field(None, pattern=r"^https?://\S+$")
    queue: str | None = Field(None, min_length=1, max_length=64)
    workflow_sid: str | None = Field(None, pattern=r"^WW[0-9a-fA-F]{32}$")

    @model_validator(mode="after")
    def _complete(self) -> VoiceSettings:
        if self.mode == "redirect" and not self.redirect_url:
            raise ValueError("voice.mode redirect needs voice.redirect_url")
        if self.mode == "enqueue" and not (self.queue or self.workflow_sid):
            raise ValueError("voice.mode enqueue needs voice.queue or voice.workflow_sid")
        return self

    def twiml(self) -> bytes:
        """The TwiML answer, rendered once by the twilio SDK."""
        response = VoiceResponse()
        if self.mode == "redirect":
            response.redirect(self.redirect_url, method="POST")
        else:
            response.enqueue(self.queue, workflow_sid=self.workflow_sid)
        return str(response).encode()


class TwilioSettings(BaseModel):
    """``auth_token`` signs every webhook (HMAC-SHA1); ``previous_auth_tokens`` are
    still accepted while a secondary token is promoted (a rotation)."""

    model_config = ConfigDict(extra="forbid")

    auth_token: SecretStr = Field(min_length=8)
    previous_auth_tokens: list[SecretStr] = Field(default_factory=list)
    voice: VoiceSettings | None = None
    sms_body: BodyPolicy = "mask"
    flex_pop: FlexPopSettings | None = None


class TwilioConnector(Connector):
    type_name = "twilio"
    description = "Twilio Voice, Messaging (SMS/MMS) and TaskRouter / Flex event callbacks"
    settings_model = TwilioSettings
    object_types = ("call", "message")

    def __init__(self, name: str, settings: BaseModel) -> None:
        super().__init__(name, settings)
        assert isinstance(settings, TwilioSettings)
        tokens = [
            s.get_secret_value() for s in (settings.auth_token, *settings.previous_auth_tokens)
        ]
        self._endpoints: list[InboundEndpoint] = [
            VoiceStatusEndpoint("voice-status", tokens),
            SmsEndpoint("sms", tokens, settings.sms_body),
            SmsStatusEndpoint("sms-status", tokens),
            TaskRouterEndpoint("taskrouter", tokens),
        ]
        if settings.voice is not None:  # rendered once: the answer can never fail later
            self._endpoints.insert(0, VoiceEndpoint("voice", tokens, settings.voice.twiml()))
        self._flex = (
            FlexPopTarget(name, settings.flex_pop, tokens[0])
            if settings.flex_pop is not None
            else None
        )

    def inbound_endpoints(self) -> Sequence[InboundEndpoint]:
        return self._endpoints

    def push_targets(self) -> Sequence[PushTarget]:
        return [self._flex] if self._flex is not None else []

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        kind, _, _ = event.event_type.partition(".")
        if event.event_type == "call.incoming":
            return events.call_changes(event.payload, incoming=True)
        if kind == "call":
            return events.call_changes(event.payload, incoming=False)
        if event.event_type == "message.received":
            return events.message_changes(event.payload, inbound=True)
        if kind == "message":
            return events.message_changes(event.payload, inbound=False)
        if kind in ("reservation", "task", "worker", "workflow", "task-queue"):
            return events.task_changes(event.event_type, event.payload)
        return [Ignored(f"no handler for {event.event_type!r}")]
