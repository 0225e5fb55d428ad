"""Which TaskRouter task a Flex pop is about.

A ``reservation.created`` event callback carries ``TaskSid`` and ``WorkerSid``/
``WorkerName`` (https://www.twilio.com/docs/taskrouter/api/event/reference), but the
hub's pop payload carries only the trigger's agent, desk, channel and time. Until the
hub copies trigger data into the payload (see README.md, "Flex pop"), the connector
remembers each offered reservation in its durable state (shared by every worker
process), one small list per agent, and the push target finds the pop's task there by
(agent, second, channel, desk), narrowed by the caller's identifiers (hashed: the
state holds no phone numbers or e-mails) when one agent was offered two tasks in the
same second (multitasking chat).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from connectors.twilio.events import task_agent, task_contact_keys, task_event_time
from hub.context import ConnectorContext
from hub.transforms import parse_datetime

#: Reservations kept per agent: an agent is offered a handful of tasks a minute at most.
KEEP = 50


def _state_key(agent: str) -> str:
    return f"flex-reservations:{agent}"


def key_hash(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()[:16]


def _second(value: datetime | None) -> int | None:
    return int(value.timestamp()) if value is not None else None


def remember(context: ConnectorContext, payload: Mapping[str, Any], workspace_sid: str) -> None:
    """Record a ``reservation.created`` callback's task for its agent (idempotent)."""
    params: Mapping[str, str] = payload["params"]
    agent, task_sid = task_agent(params), params.get("TaskSid")
    if not agent or not task_sid or params.get("WorkspaceSid", workspace_sid) != workspace_sid:
        return
    entry = {
        "at": _second(task_event_time(payload)),
        "task_sid": task_sid,
        "reservation_sid": params.get("ReservationSid") or params.get("ResourceSid"),
        "channel": params.get("TaskChannelUniqueName"),
        "desk": params.get("TaskQueueName"),
        "keys": sorted(key_hash(k, v) for k, v in task_contact_keys(params)),
    }
    with context.locked_state(_state_key(agent)) as state:
        entries = [
            e
            for e in (state.value or {}).get("recent", [])
            if e.get("reservation_sid") != entry["reservation_sid"]
        ]
        state.set({"recent": [*entries, entry][-KEEP:]})


def _identifier_hashes(payload: Mapping[str, Any]) -> set[str]:
    contact = payload.get("contact") or {}
    found: Iterable[Any] = contact.get("identifiers") or [] if isinstance(contact, dict) else []
    return {key_hash(str(i.get("kind")), str(i.get("value"))) for i in found if isinstance(i, dict)}


def find_task(context: ConnectorContext, payload: Mapping[str, Any]) -> tuple[str | None, str]:
    """``(task_sid, why)``: the pop's task, or None with the reason in plain words."""
    trigger: Mapping[str, Any] = payload.get("trigger") or {}
    data = trigger.get("data")
    if isinstance(data, dict) and isinstance(data.get("task_sid"), str):
        return data["task_sid"], ""  # the hub passes trigger data through
    agent = trigger.get("agent")
    if not agent:
        return None, "the pop names no agent"
    at = _second(parse_datetime(trigger.get("triggered_at")))
    recent = (context.get_state(_state_key(str(agent))) or {}).get("recent", [])
    candidates = [
        e
        for e in recent
        if e.get("at") == at and e.get("desk") == trigger.get("desk") and e.get("task_sid")
    ]
    if len(candidates) > 1:
        ours = _identifier_hashes(payload)
        candidates = [e for e in candidates if ours & set(e.get("keys") or [])]
    if len(candidates) == 1:
        return str(candidates[0]["task_sid"]), ""
    if not candidates:
        return None, "no TaskRouter reservation was recorded for this pop's agent and time"
    return None, f"{len(candidates)} reservations match this pop; refusing to guess"
