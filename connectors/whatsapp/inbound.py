"""The WhatsApp Cloud API webhook: GET handshake, POST notifications (protocols.md §4).

Meta signs the raw body (``X-Hub-Signature-256``, ``webhooks/meta.py``) and batches up
to 1000 updates per request, so one request becomes one event per message and per
status. Keys (protocols.md §7): ``messages[].id`` (the wamid) for messages,
``statuses[].id`` + ``status`` for receipts. Meta retries for up to 7 days and to
every app subscribed to the WABA, so duplicates are normal and stored once.

Whether an inbound message opens a new conversation is decided here, at intake, with
the connector's durable state (one key per wa_id): the worker runs inside a store
transaction, where a second, state-locking transaction would wait on SQLite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from connectors.twilio.redact import BodyPolicy, redact
from hub.plugin import AckResponse, InboundEndpoint, InboundEvent
from webhooks import PayloadError, RawRequest
from webhooks.meta import meta_handshake, verify_meta

#: (wa_id, wamid, sent at epoch seconds) -> does it open a new conversation?
ConversationCheck = Callable[[str, str, int], bool]
_MEDIA = ("image", "audio", "video", "document", "sticker")


def _obj(value: Any, where: str, *, optional: bool = False) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"{where} must be a list")
    return value


def _text(value: Any, where: str, max_length: int = 512) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise PayloadError(f"{where} must be a non-empty string")
    return value


def _epoch(value: Any, where: str) -> int:
    """WhatsApp timestamps are epoch seconds as a string (protocols.md §4)."""
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    if not text.isdigit() or len(text) > 11:
        raise PayloadError(f"{where} must be epoch seconds")
    return int(text)


def message_text(message: dict[str, Any], policy: BodyPolicy) -> str | None:
    """What the timeline may show of a message: text body or media caption, redacted."""
    kind = message.get("type")
    if kind == "text":
        body = (message.get("text") or {}).get("body")
        return redact(body if isinstance(body, str) else None, policy)
    if kind in _MEDIA:
        caption = (message.get(kind) or {}).get("caption")
        shown = redact(caption if isinstance(caption, str) else None, policy)
        return f"[{kind}] {shown}" if shown else f"[{kind}]"
    return f"[{kind}]" if isinstance(kind, str) else None


class WhatsAppEndpoint(InboundEndpoint):
    """``/webhooks/<name>``: GET answers the handshake, POST takes notifications."""

    methods = ("POST",)

    def __init__(
        self,
        secrets: Sequence[str],
        verify_token: str,
        policy: BodyPolicy,
        is_new_conversation: ConversationCheck,
    ) -> None:
        super().__init__("")
        self._secrets = tuple(secrets)
        self._verify_token = verify_token
        self._policy = policy
        self._is_new = is_new_conversation

    def handshake(self, raw: RawRequest) -> AckResponse:
        """Echo ``hub.challenge`` as plain text when the verify token is ours."""
        challenge = meta_handshake(raw, self._verify_token)
        return AckResponse(body=challenge.encode(), content_type="text/plain")

    def verify(self, raw: RawRequest) -> None:
        verify_meta(raw, self._secrets)

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        try:
            document: Any = json.loads(raw.body)
        except (ValueError, RecursionError):
            raise PayloadError("body is not valid JSON") from None
        document = _obj(document, "body")
        if document.get("object") != "whatsapp_business_account":
            raise PayloadError("object must be 'whatsapp_business_account'")
        events: list[InboundEvent] = []
        for i, entry in enumerate(_list(document.get("entry"), "entry")):
            entry = _obj(entry, f"entry[{i}]")
            for j, change in enumerate(_list(entry.get("changes"), f"entry[{i}].changes")):
                where = f"entry[{i}].changes[{j}]"
                events.extend(self._change(_obj(change, where), where))
        if not events:
            raise PayloadError("no changes in the notification")
        return events

    def _change(self, change: dict[str, Any], where: str) -> list[InboundEvent]:
        value = _obj(change.get("value"), f"{where}.value")
        if change.get("field") != "messages":
            digest = hashlib.sha256(json.dumps(change, sort_keys=True).encode()).hexdigest()
            field = str(change.get("field"))[:50]
            return [InboundEvent(f"change:{field}:{digest}", f"change.{field}", {"change": change})]
        metadata = _obj(value.get("metadata"), f"{where}.value.metadata", optional=True)
        profiles = {
            str(c.get("wa_id")): c
            for c in _list(value.get("contacts"), f"{where}.value.contacts")
            if isinstance(c, dict)
        }
        events = [
            self._message(
                _obj(m, f"{where}.messages[{k}]"), profiles, metadata, f"{where}.messages[{k}]"
            )
            for k, m in enumerate(_list(value.get("messages"), f"{where}.value.messages"))
        ]
        for k, status in enumerate(_list(value.get("statuses"), f"{where}.value.statuses")):
            events.append(self._status(_obj(status, f"{where}.statuses[{k}]"), metadata, where))
        return events

    def _message(
        self,
        message: dict[str, Any],
        profiles: dict[str, Any],
        metadata: dict[str, Any],
        where: str,
    ) -> InboundEvent:
        wamid = _text(message.get("id"), f"{where}.id")
        wa_id = _text(message.get("from"), f"{where}.from", 32)
        sent = _epoch(message.get("timestamp"), f"{where}.timestamp")
        profile = profiles.get(wa_id, {}).get("profile")
        name = profile.get("name") if isinstance(profile, dict) else None
        payload = {
            "wamid": wamid,
            "wa_id": wa_id,
            "timestamp": sent,
            "type": message.get("type"),
            "text": message_text(message, self._policy),
            "profile_name": name if isinstance(name, str) else None,
            "phone_number_id": metadata.get("phone_number_id"),
            "context_id": (message.get("context") or {}).get("id"),
            "new_conversation": self._is_new(wa_id, wamid, sent),
        }
        return InboundEvent(f"message:{wamid}", "message.received", payload)

    def _status(self, status: dict[str, Any], metadata: dict[str, Any], where: str) -> InboundEvent:
        wamid = _text(status.get("id"), f"{where}.statuses.id")
        state = _text(status.get("status"), f"{where}.statuses.status", 32)
        conversation = _obj(status.get("conversation"), f"{where}.conversation", optional=True)
        errors = status.get("errors") if isinstance(status.get("errors"), list) else []
        payload = {
            "wamid": wamid,
            "status": state,
            "timestamp": _epoch(status.get("timestamp"), f"{where}.statuses.timestamp"),
            "recipient_id": status.get("recipient_id"),
            "conversation_id": conversation.get("id"),
            "phone_number_id": metadata.get("phone_number_id"),
            "error_code": errors[0].get("code") if errors and isinstance(errors[0], dict) else None,
        }
        return InboundEvent(f"status:{wamid}:{state}", f"status.{state}", payload)
