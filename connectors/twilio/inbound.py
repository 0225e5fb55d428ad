"""Twilio's webhook endpoints: voice, voice-status, sms, sms-status and taskrouter.

Every request is verified with ``X-Twilio-Signature`` (``webhooks/twilio.py``, which
wraps twilio's own ``RequestValidator``) over the public URL the hub rebuilt and the
raw form (or JSON, pinned by ``bodySHA256``) body. Parsing keeps every parameter:
"Twilio adds parameters without notice" (protocols.md §3.1).

Idempotency keys follow protocols.md §7: CallSid + CallStatus + SequenceNumber for
call progress, MessageSid (+ status) for messages, the event Sid for TaskRouter.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from connectors.twilio.redact import BodyPolicy, redact
from hub.plugin import AckResponse, InboundEndpoint, InboundEvent, IntakeResult
from webhooks import PayloadError, RawRequest
from webhooks.twilio import verify_twilio

log = logging.getLogger(__name__)

#: Twilio resource sids: two capital letters and 32 hex digits (CA…, SM…, MM…, WT…).
SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response />'
TEXT_XML = "text/xml"


def form_params(raw: RawRequest) -> dict[str, str]:
    """The request's parameters (last value wins); JSON bodies become strings too."""
    if raw.content_type == "application/json":
        try:
            document: Any = json.loads(raw.body)
        except (ValueError, RecursionError):
            raise PayloadError("body is not valid JSON") from None
        if not isinstance(document, dict):
            raise PayloadError("a JSON body must be an object of parameters")
        return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in document.items()}
    from urllib.parse import parse_qsl

    try:
        text = raw.body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("form body is not UTF-8") from None
    return dict(parse_qsl(text, keep_blank_values=True))


def require_sid(params: dict[str, str], *names: str) -> str:
    """The first of ``names`` holding a well-formed sid, else a 400."""
    for name in names:
        value = params.get(name, "")
        if SID.match(value):
            return value
    raise PayloadError(f"missing or malformed {names[0]}")


def require_token(params: dict[str, str], name: str) -> str:
    value = params.get(name, "")
    if not _TOKEN.match(value):
        raise PayloadError(f"missing or malformed {name}")
    return value


def _payload(raw: RawRequest, params: dict[str, str]) -> dict[str, Any]:
    return {"params": params, "received_at": raw.received_at.isoformat()}


class TwilioEndpoint(InboundEndpoint):
    """Verification shared by every Twilio endpoint."""

    def __init__(self, name: str, tokens: Sequence[str]) -> None:
        super().__init__(name)
        self._tokens = tuple(tokens)

    def verify(self, raw: RawRequest) -> None:
        verify_twilio(raw, self._tokens)

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        return self.events(raw, form_params(raw))

    def events(self, raw: RawRequest, params: dict[str, str]) -> list[InboundEvent]:
        raise NotImplementedError


class VoiceEndpoint(TwilioEndpoint):
    """The number's Voice URL: record the ringing call, answer TwiML at once.

    A failure here is heard by the caller (Twilio waits at most 15 s, then plays an
    error or calls the Fallback URL: protocols.md §3.2, error 11205), so the answer is
    pre-rendered TwiML returned by ``ack`` *and* ``fallback``: the hub answers it even
    when the store is down. A verified request we cannot make sense of (no CallSid) is
    still routed, and stored as nothing, rather than refused: the caller comes first.
    """

    def __init__(self, name: str, tokens: Sequence[str], twiml: bytes) -> None:
        super().__init__(name, tokens)
        self._twiml = twiml

    def events(self, raw: RawRequest, params: dict[str, str]) -> list[InboundEvent]:
        sid = params.get("CallSid", "")
        if not SID.match(sid):
            log.warning("twilio.voice_unparsable", extra={"endpoint": self.name})
            return []
        return [InboundEvent(f"call:{sid}:incoming", "call.incoming", _payload(raw, params))]

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        try:
            return super().parse(raw)
        except PayloadError:
            log.warning("twilio.voice_unparsable", extra={"endpoint": self.name})
            return []

    def ack(self, raw: RawRequest, result: IntakeResult) -> AckResponse:
        return AckResponse(body=self._twiml, content_type=TEXT_XML)

    def fallback(self, raw: RawRequest) -> AckResponse:
        return AckResponse(body=self._twiml, content_type=TEXT_XML)


class VoiceStatusEndpoint(TwilioEndpoint):
    """The call's StatusCallback: initiated, ringing, in-progress, completed, …"""

    def events(self, raw: RawRequest, params: dict[str, str]) -> list[InboundEvent]:
        sid = require_sid(params, "CallSid")
        status = require_token(params, "CallStatus")
        sequence = params.get("SequenceNumber", "")
        key = f"call:{sid}:{status}:{sequence}"
        return [InboundEvent(key, f"call.{status}", _payload(raw, params))]


class SmsEndpoint(TwilioEndpoint):
    """The number's Messaging URL: inbound SMS/MMS (and WhatsApp through Twilio).

    The body is redacted per the connector's policy before it is queued, so the inbox
    payload holds no more than the timeline will. Answers ``<Response />``: no reply.
    """

    def __init__(self, name: str, tokens: Sequence[str], policy: BodyPolicy) -> None:
        super().__init__(name, tokens)
        self._policy = policy

    def events(self, raw: RawRequest, params: dict[str, str]) -> list[InboundEvent]:
        sid = require_sid(params, "MessageSid", "SmsMessageSid", "SmsSid")
        params = {**params, "MessageSid": sid}
        body = params.pop("Body", None)
        params["BodyChars"] = str(len(body or ""))
        kept = redact(body, self._policy)
        if kept is not None:
            params["Body"] = kept
        return [InboundEvent(f"message:{sid}:received", "message.received", _payload(raw, params))]

    def ack(self, raw: RawRequest, result: IntakeResult) -> AckResponse:
        return AckResponse(body=EMPTY_TWIML, content_type=TEXT_XML)


class SmsStatusEndpoint(TwilioEndpoint):
    """An outbound message's StatusCallback: queued, sent, delivered, read, failed, …"""

    def events(self, raw: RawRequest, params: dict[str, str]) -> list[InboundEvent]:
        sid = require_sid(params, "MessageSid", "SmsSid")
        status = require_token(params, "MessageStatus")
        params = {**params, "MessageSid": sid}
        params.pop("Body", None)  # some channels echo it; a status needs no text
        return [InboundEvent(f"message:{sid}:{status}", f"message.{status}", _payload(raw, params))]


class TaskRouterEndpoint(TwilioEndpoint):
    """The workspace's Event Callback URL (reservation.created, task.created, …).

    Each callback carries its own event Sid (``EA…``): that is the idempotency key.
    """

    def events(self, raw: RawRequest, params: dict[str, str]) -> list[InboundEvent]:
        event_type = require_token(params, "EventType")
        sid = params.get("Sid", "")
        if SID.match(sid):
            key = f"event:{sid}"
        else:
            resource = require_sid(params, "ResourceSid")
            key = f"event:{event_type}:{resource}:{params.get('Timestamp', '')[:20]}"
        return [InboundEvent(key, event_type, _payload(raw, params))]
