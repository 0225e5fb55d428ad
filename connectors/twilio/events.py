"""Turn stored Twilio callbacks into timeline changes (runs in the worker).

Ordering: a call's status callbacks carry ``Timestamp`` (RFC 2822, whole seconds) and
``SequenceNumber`` (protocols.md §3.2); ``updated_at`` is the timestamp plus the
sequence number in microseconds, so ``ringing`` → ``in-progress`` → ``completed`` keep
their order even within one second, and a late ``ringing`` never overwrites
``completed``. The incoming-call webhook has neither, so its version is pinned one
second *before* the second it arrived in: any status callback wins over it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from hub.plugin import Change, Ignored, PopTrigger, SourceRecord
from hub.transforms import TransformContext, email, parse_datetime, phone

_E164 = TransformContext()
DIRECTIONS = {"inbound": "inbound", "outbound-api": "outbound", "outbound-dial": "outbound"}
ADDRESS_PREFIXES = {"whatsapp": "whatsapp", "messenger": "social", "sms": "sms"}
TASK_CHANNELS = {"voice": "voice", "sms": "sms", "chat": "chat", "whatsapp": "whatsapp"}


def e164(value: Any) -> str | None:
    """``+14155550142`` from a Twilio address (``whatsapp:+1…`` included), else None
    (``client:alice``, SIP URIs and anonymous callers identify no customer)."""
    if not isinstance(value, str):
        return None
    prefix, sep, rest = value.partition(":")
    address = rest if sep and prefix in ADDRESS_PREFIXES else value
    return phone(address, None, _E164) if address.startswith("+") else None


def address_channel(value: str, default: str = "sms") -> str:
    """The channel a Twilio messaging address belongs to (``whatsapp:+1…`` → whatsapp)."""
    prefix, sep, _ = value.partition(":")
    return ADDRESS_PREFIXES.get(prefix, default) if sep else default


def _rfc2822(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parse_datetime(parsed)  # naive (-0000) is UTC; always aware


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def call_changes(payload: Mapping[str, Any], *, incoming: bool) -> list[Change]:
    """A call's interaction (voice), plus the ringing pop for a fresh inbound call."""
    params: dict[str, str] = payload["params"]
    received = parse_datetime(payload.get("received_at")) or parse_datetime(0)
    assert received is not None
    if params.get("ParentCallSid"):
        # A child leg (<Dial> to an agent) is not a customer contact: its "To" is the
        # agent's number. The parent call carries the customer.
        return [Ignored("child call leg")]
    sid = params["CallSid"]
    direction = DIRECTIONS.get(params.get("Direction", "inbound"), "inbound")
    stamped = _rfc2822(params.get("Timestamp"))
    if incoming or stamped is None:
        at = received
        version = received.replace(microsecond=0) - timedelta(seconds=1)
    else:
        at = stamped
        version = stamped + timedelta(microseconds=_int(params.get("SequenceNumber")) or 0)
    customer = params.get("From") if direction == "inbound" else params.get("To")
    number = e164(customer)
    data: dict[str, Any] = {
        "call_sid": sid,
        "status": params.get("CallStatus"),
        "direction": direction,
        "customer_number": number,
        "occurred_at": at.isoformat(),
        "duration": _int(params.get("CallDuration")),
        "error_code": params.get("ErrorCode"),
        "recording_sid": params.get("RecordingSid"),
    }
    changes: list[Change] = [SourceRecord("call", sid, data, version)]
    if incoming and direction == "inbound" and params.get("CallStatus") == "ringing":
        changes.append(
            PopTrigger(
                key=f"call.ringing:{sid}",
                trigger="call.ringing",
                interaction=("call", sid),
                contact_keys=(("phone", number),) if number else (),
                channel="voice",
                triggered_at=received,
            )
        )
    return changes


def message_changes(payload: Mapping[str, Any], *, inbound: bool) -> list[Change]:
    """An SMS/MMS (or WhatsApp-through-Twilio) message's interaction."""
    params: dict[str, str] = payload["params"]
    received = parse_datetime(payload.get("received_at"))
    sid = params["MessageSid"]
    customer = params.get("From", "") if inbound else params.get("To", "")
    media = _int(params.get("NumMedia")) or 0
    summary = params.get("Body")
    if summary is None and media:
        summary = f"[{media} media]"
    data = {
        "message_sid": sid,
        "channel": address_channel(customer),
        "direction": "inbound" if inbound else "outbound",
        "status": params.get("MessageStatus") or params.get("SmsStatus"),
        "customer_number": e164(customer),
        "occurred_at": received.isoformat() if received else None,
        "summary": summary,
        "body_chars": _int(params.get("BodyChars")),
        "num_media": media,
        "media_types": [params.get(f"MediaContentType{i}") for i in range(min(media, 10))],
        "error_code": params.get("ErrorCode"),
    }
    return [SourceRecord("message", sid, data, received)]


def _task_contact_keys(attributes: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """Customer keys from a task's attributes: Studio/Flex put the caller in ``from``
    (voice), ``customerAddress`` or ``customers.phone``/``.email`` (Flex channels)."""
    customers = attributes.get("customers")
    customers = customers if isinstance(customers, dict) else {}
    keys: list[tuple[str, str]] = []
    for candidate in (
        attributes.get("from"),
        attributes.get("caller"),
        attributes.get("customerAddress"),
        customers.get("phone"),
    ):
        number = e164(candidate)
        if number and ("phone", number) not in keys:
            keys.append(("phone", number))
    for candidate in (customers.get("email"), attributes.get("email")):
        address = email(candidate, None, _E164)
        if address and ("email", address) not in keys:
            keys.append(("email", address))
    return tuple(keys)


def _attributes(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def task_contact_keys(params: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Customer keys (``("phone", "+1…")``) from a TaskRouter event's ``TaskAttributes``."""
    return _task_contact_keys(_attributes(params.get("TaskAttributes")))


def task_agent(params: Mapping[str, str]) -> str | None:
    """The agent a TaskRouter event names: ``WorkerName``, else ``WorkerSid``."""
    return params.get("WorkerName") or params.get("WorkerSid")


def task_event_time(payload: Mapping[str, Any]) -> datetime | None:
    """When a TaskRouter event happened: ``Timestamp`` (epoch seconds), else arrival."""
    params: Mapping[str, str] = payload["params"]
    return parse_datetime(params.get("Timestamp")) or parse_datetime(payload.get("received_at"))


def task_changes(event_type: str, payload: Mapping[str, Any]) -> list[Change]:
    """``reservation.created`` is the Flex screen-pop moment: this worker (agent) is
    being offered this customer's task. ``reservation.accepted`` names the agent on
    the call. Other TaskRouter events are kept and marked ignored."""
    params: dict[str, str] = payload["params"]
    attributes = _attributes(params.get("TaskAttributes"))
    call_sid = attributes.get("call_sid")
    call_sid = call_sid if isinstance(call_sid, str) and call_sid else None
    agent = task_agent(params)
    at = task_event_time(payload)
    if event_type == "reservation.created":
        channel = params.get("TaskChannelUniqueName") or attributes.get("channelType") or ""
        reservation = params.get("ReservationSid") or params.get("ResourceSid")
        return [
            PopTrigger(
                key=f"reservation.created:{reservation}",
                trigger="reservation.created",
                interaction=("call", call_sid) if call_sid else None,
                contact_keys=_task_contact_keys(attributes),
                channel=TASK_CHANNELS.get(str(channel).lower()),
                agent=agent,
                desk=params.get("TaskQueueName"),
                triggered_at=at,
                data={
                    k: v
                    for k, v in (
                        ("task_sid", params.get("TaskSid")),
                        ("reservation_sid", reservation),
                    )
                    if v
                },
            )
        ]
    if event_type == "reservation.accepted" and call_sid and agent:
        data = {
            "call_sid": call_sid,
            "agent": agent,
            "direction": "inbound",
            "customer_number": e164(attributes.get("from")),
            "occurred_at": at.isoformat() if at else None,
        }
        # No version: this only names the agent and must not lose to (or beat) the
        # call's status ordering; status stays whatever the callbacks last set.
        return [SourceRecord("call", call_sid, data, None)]
    return [Ignored(f"TaskRouter {event_type!r} is not used")]
