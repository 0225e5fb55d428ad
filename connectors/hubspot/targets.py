"""Screen pops into HubSpot: a note (or a call engagement) on the caller's contact that
summarises the cross-channel context, created once per idempotency key.

HubSpot facts (../shared/protocols.md §1.6): ``POST /crm/v3/objects/notes`` needs
``hs_timestamp``; a create body may carry ``associations`` with v4 HUBSPOT_DEFINED type
ids (note → contact 202, call → contact 194); ``hs_call_direction`` is INBOUND/OUTBOUND
and ``hs_call_status`` e.g. IN_PROGRESS. HubSpot has no idempotency key on creates.

Idempotency without one: ``pop:<key>`` in the connector state says ``creating`` before
the create and holds the engagement id after it. A retry that finds ``creating`` (we
crashed or timed out between the create and the commit) first looks for the marker
``threadline-pop:<key>`` among the contact's notes/calls through the associations API,
which, unlike search, has no indexing lag. The outbox leases a pop to one worker at a
time, so two processes do not push the same key at once; within a process a lock per
key makes sure of it.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.objects import OBJECTS, POP_MARKER, HubSpotObject
from hub.context import ConnectorContext
from hub.plugin import PushTarget

DEEP_LINK = "https://app.hubspot.com/contacts/{portal}/record/0-1/{id}"


def _text(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value or "").split())
    return html.escape(text[:limit] + ("…" if len(text) > limit else ""))


def summary_html(payload: Mapping[str, Any], marker: str, interactions: int) -> str:
    """The note body: who, why now, recent interactions on every channel, open items."""
    contact = payload.get("contact") or {}
    trigger = payload.get("trigger") or {}
    name = (
        contact.get("display_name")
        or " ".join(p for p in (contact.get("first_name"), contact.get("last_name")) if p)
        or "Caller"
    )
    channel = trigger.get("channel") or "contact"
    direction = trigger.get("direction") or "inbound"
    lines = [
        f"<p><strong>Threadline: {_text(direction)} {_text(channel)} from "
        f"{_text(name)}</strong></p>"
    ]
    recent = list(payload.get("recent_interactions") or [])[:interactions]
    if recent:
        items = "".join(
            f"<li>{_text(i.get('occurred_at'), 30)} · {_text(i.get('channel'), 20)} "
            f"{_text(i.get('direction'), 10)}: {_text(i.get('summary') or i.get('status'))}</li>"
            for i in recent
            if isinstance(i, Mapping)
        )
        lines.append(f"<p>Recent interactions across channels:</p><ul>{items}</ul>")
    else:
        lines.append("<p>No earlier interactions on other channels.</p>")
    open_items = [i for i in payload.get("open_items") or [] if isinstance(i, Mapping)]
    if open_items:
        items = "".join(
            f"<li>{_text(i.get('title') or i.get('summary') or i.get('id'))}</li>"
            for i in open_items[:10]
        )
        lines.append(f"<p>Open items:</p><ul>{items}</ul>")
    lines.append(f"<p><small>{html.escape(marker)}</small></p>")
    return "".join(lines)


class HubSpotPopTarget(PushTarget):
    """``hubspot_pop``: returns the deep link to the contact record."""

    name: ClassVar[str] = "hubspot_pop"

    def __init__(self, api: HubSpotApi, context: Callable[[], ConnectorContext]) -> None:
        self.api = api
        self._context = context
        # A fixed stripe of locks: pushes of one key in this process never overlap.
        self._locks = [threading.Lock() for _ in range(64)]
        self.created = 0  # engagements this instance created (tests, metrics)

    def _contact_id(self, payload: Mapping[str, Any]) -> str | None:
        for identity in payload.get("identities") or []:
            if (
                isinstance(identity, Mapping)
                and identity.get("connector") == self.api.connector
                and identity.get("object_type") == "contact"
                and str(identity.get("external_id", "")).isdigit()
            ):
                return str(identity["external_id"])
        return None

    def push(self, payload: Mapping[str, Any], idempotency_key: str) -> str | None:
        contact_id = self._contact_id(payload)
        if contact_id is None:
            return None  # not a contact this portal knows: nothing to show there
        link = DEEP_LINK.format(portal=self.api.settings.portal_id, id=contact_id)
        import zlib

        with self._locks[zlib.crc32(idempotency_key.encode()) % len(self._locks)]:
            self._push_once(payload, idempotency_key, contact_id)
        return link

    def _push_once(self, payload: Mapping[str, Any], key: str, contact_id: str) -> str:
        context = self._context()
        state_key = f"pop:{key}"
        marker = f"{POP_MARKER}{key}"
        obj = OBJECTS[self.api.settings.pop.engagement]
        state = context.get_state(state_key) or {}
        if state.get("id"):
            return str(state["id"])
        if state.get("status") == "creating":
            found = self._find_marker(obj, contact_id, marker)
            if found is not None:
                context.set_state(state_key, {"status": "done", "id": found})
                return found
        context.set_state(state_key, {"status": "creating", "at": datetime.now(UTC).isoformat()})
        created = self._create(obj, payload, contact_id, marker)
        context.set_state(state_key, {"status": "done", "id": created})
        return created

    def _create(
        self, obj: HubSpotObject, payload: Mapping[str, Any], contact_id: str, marker: str
    ) -> str:
        models = obj.models()
        body = summary_html(payload, marker, self.api.settings.pop.interactions)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        if obj.object_type == "note":
            properties = {"hs_timestamp": stamp, "hs_note_body": body}
        else:
            trigger = payload.get("trigger") or {}
            properties = {
                "hs_timestamp": stamp,
                "hs_call_body": body,
                "hs_call_title": "Threadline screen pop",
                "hs_call_direction": "OUTBOUND"
                if trigger.get("direction") == "outbound"
                else "INBOUND",
                "hs_call_status": "IN_PROGRESS",
            }
            if trigger.get("from"):
                properties["hs_call_from_number"] = str(trigger["from"])
        request = models.SimplePublicObjectInputForCreate(
            properties=properties,
            associations=[
                models.PublicAssociationsForObject(
                    to=models.PublicObjectId(id=contact_id),
                    types=[
                        models.AssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=obj.to_contact_type,
                        )
                    ],
                )
            ],
        )
        answer = self.api.call(
            lambda c: obj.discovery(c).basic_api.create_with_http_info(
                request, _request_timeout=self.api.settings.timeout_seconds
            ),
            what=f"{obj.api_name} create (pop)",
        )
        self.created += 1
        return str(answer.id)

    def _find_marker(self, obj: HubSpotObject, contact_id: str, marker: str) -> str | None:
        """Our engagement on the contact, if a previous attempt created it."""
        ids: list[str] = []
        after: str | None = None
        while True:
            page = self.api.call(
                lambda c, a: c.crm.associations.v4.basic_api.get_page_with_http_info(
                    "contacts",
                    contact_id,
                    obj.api_name,
                    after=a,
                    limit=500,
                    _request_timeout=self.api.settings.timeout_seconds,
                ),
                after,
                what=f"contact {obj.api_name} associations",
            )
            ids += [str(r.to_object_id) for r in page.results or []]
            after = getattr(getattr(page.paging, "next", None), "after", None)
            if after is None:
                break
        if not ids:
            return None
        return _with_marker(self.api, obj, ids, marker)


def _with_marker(api: HubSpotApi, obj: HubSpotObject, ids: list[str], marker: str) -> str | None:
    models = obj.models()
    prop = "hs_note_body" if obj.object_type == "note" else "hs_call_body"
    for start in range(0, len(ids), 100):
        body = models.BatchReadInputSimplePublicObjectId(
            properties=[prop],
            properties_with_history=[],
            inputs=[models.SimplePublicObjectId(id=i) for i in ids[start : start + 100]],
        )
        answer = api.call(
            lambda c, b: obj.discovery(c).batch_api.read_with_http_info(b),
            body,
            what=f"{obj.api_name} batch read (pop recovery)",
        )
        for item in answer.results or []:
            if html.escape(marker) in ((item.properties or {}).get(prop) or ""):
                return str(item.id)
    return None
