"""The ``threadline`` object merged into a Flex task's attributes (pure functions).

Flex shows task attributes to the agent: the CRM container and plugins read
``task.attributes`` (https://www.twilio.com/docs/flex/developer/ui/components), so a
compact ``threadline`` object there gives a Flex plugin or a CRM-panel URL template
(``{task.attributes.threadline.panel_url}``) everything without another call.
TaskRouter caps the attributes' size, whitespace included
(https://www.twilio.com/docs/taskrouter/limits): the JSON is minified and, when it
would not fit, the oldest interactions are dropped first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

KEY = "threadline"
SUMMARY_CHARS = 160


def _text(value: Any, limit: int = SUMMARY_CHARS) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _interaction(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "at": item.get("occurred_at"),
        "channel": item.get("channel"),
        "direction": item.get("direction"),
        "status": item.get("status"),
        "summary": _text(item.get("summary")),
        "agent": item.get("agent"),
    }


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value or [] if isinstance(v, Mapping)]


def _name(contact: Mapping[str, Any]) -> str | None:
    parts = (contact.get("first_name"), contact.get("last_name"))
    return contact.get("display_name") or " ".join(p for p in parts if p) or None


def panel_link(template: str | None, payload: Mapping[str, Any]) -> str | None:
    """``panel_url`` with ``{agent}`` and ``{pop_id}`` filled in (URL-quoted)."""
    if not template:
        return None
    trigger = payload.get("trigger") or {}
    return template.replace("{agent}", quote(str(trigger.get("agent") or ""), safe="")).replace(
        "{pop_id}", str(payload.get("pop_id") or "")
    )


def build(
    payload: Mapping[str, Any], *, interactions: int, panel_url: str | None = None
) -> dict[str, Any]:
    """The context an agent needs, from a pop payload (``hub.pops.PopFanout.payload``)."""
    contact = payload.get("contact") if isinstance(payload.get("contact"), Mapping) else {}
    assert isinstance(contact, Mapping)
    routing = payload.get("routing") if isinstance(payload.get("routing"), Mapping) else {}
    assert isinstance(routing, Mapping)
    journey = payload.get("journey") if isinstance(payload.get("journey"), Mapping) else None
    recent = _dicts(payload.get("recent_interactions") or payload.get("interactions"))
    last_by_channel: dict[str, dict[str, Any]] = {}
    for item in recent:  # newest first: the first per channel is its latest
        last_by_channel.setdefault(str(item.get("channel")), _interaction(item))
    return {
        "pop_id": payload.get("pop_id"),
        "contact_id": contact.get("id"),
        "name": _name(contact),
        "company": contact.get("company"),
        "tier": contact.get("tier"),
        "language": contact.get("language"),
        "vip": bool(routing.get("vip")),
        "identifiers": [
            {"kind": i.get("kind"), "value": i.get("value")}
            for i in _dicts(contact.get("identifiers"))[:10]
        ],
        "last_by_channel": last_by_channel,
        "recent": [_interaction(i) for i in recent[:interactions]],
        "open_items": [
            {
                "channel": i.get("channel"),
                "status": i.get("status"),
                "summary": _text(i.get("summary")),
                "ref": i.get("ref"),
            }
            for i in _dicts(payload.get("open_items"))[:5]
        ],
        "journey": (
            {
                "channels": journey.get("channels"),
                "channel_switches": journey.get("channel_switches"),
                "started_at": journey.get("started_at"),
            }
            if journey
            else None
        ),
        "links": [
            {"connector": i.get("connector"), "object": i.get("object_type"), "url": i["deep_link"]}
            for i in _dicts(payload.get("identities"))
            if i.get("deep_link") and not i.get("deleted")
        ],
        "routing": {
            "last_agent": routing.get("last_agent"),
            "preferred_channel": routing.get("preferred_channel"),
        },
        "match_confidence": (payload.get("match") or {}).get("confidence"),
        "panel_url": panel_link(panel_url, payload),
        "updated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def dumps(attributes: Mapping[str, Any]) -> str:
    """Minified JSON: TaskRouter's size cap counts whitespace."""
    return json.dumps(attributes, separators=(",", ":"), ensure_ascii=False)


def existing_pop(attributes: Mapping[str, Any]) -> int | None:
    """The pop id already merged into these attributes, if any."""
    current = attributes.get(KEY)
    pop_id = current.get("pop_id") if isinstance(current, Mapping) else None
    return pop_id if isinstance(pop_id, int) else None


def merge(attributes: Mapping[str, Any], context: dict[str, Any], max_bytes: int) -> str | None:
    """``attributes`` with ``threadline`` replaced by ``context``, minified, shrunk to
    ``max_bytes`` by dropping the oldest interactions; None if it cannot fit."""
    context = dict(context)
    while True:
        text = dumps({**attributes, KEY: context})
        if len(text.encode()) <= max_bytes:
            return text
        if context["recent"]:
            context["recent"] = context["recent"][:-1]
        elif context["links"] or context["open_items"]:
            context["links"], context["open_items"] = [], []
        else:
            return None
