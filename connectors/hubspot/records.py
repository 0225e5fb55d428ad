"""SDK objects → :class:`hub.plugin.SourceRecord`, and hydration by batch read.

The record data a mapping file sees (``mappings/hubspot/*.yaml``)::

    {"id": "101", "properties": {"email": "…", …}, "created_at": "…", "updated_at": "…",
     "associations": {"contacts": ["101"], "companies": ["10000001"]}, "portal_id": 62515}

HubSpot returns every property value as a string and requested-but-empty ones as null
(../shared/protocols.md §1.3). Search results never carry associations, so engagements
get theirs from one associations-v4 batch read per page.

Reads take the SDK's response undecoded (``_preload_content=False``) and parse the JSON
here into :class:`Item`: hubspot-api-client's model deserialisation runs dateutil on
every timestamp and builds an object per property map, about 0.5 ms a record, which
was a third of a backfill's time on the hub side. The request itself (auth, headers,
query encoding, errors as ``ApiException``) is still the SDK's.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.objects import POP_MARKER, HubSpotObject
from hub.plugin import SourceRecord
from hub.transforms import parse_datetime

BATCH_READ_MAX = 100  # HubSpot's batch endpoints take at most 100 inputs
ASSOC_READ_MAX = 1000  # associations v4 batch read


_TAGS = re.compile(r"<[^>]+>")
_BODIES = ("hs_note_body", "hs_call_body", "hs_email_text", "hs_meeting_body")


@dataclass(frozen=True, slots=True)
class Item:
    """One ``SimplePublicObject`` as read from the wire."""

    id: str
    properties: dict[str, Any]
    created_at: str | None = None
    updated_at: str | None = None
    associations: dict[str, list[str]] = field(default_factory=dict)


def item_from_json(raw: Mapping[str, Any]) -> Item:
    """An ``Item`` from one object of a list, search or batch-read answer."""
    assoc: dict[str, list[str]] = {}
    for name, collection in (raw.get("associations") or {}).items():
        results = collection.get("results") if isinstance(collection, Mapping) else None
        assoc[name] = [str(a["id"]) for a in results or () if isinstance(a, Mapping)]
    return Item(
        id=str(raw["id"]),
        properties=dict(raw.get("properties") or {}),
        created_at=raw.get("createdAt"),
        updated_at=raw.get("updatedAt"),
        associations=assoc,
    )


def items_from_json(body: Any) -> list[Item]:
    """The ``results`` of an answer as items (an answer without results has none)."""
    results = body.get("results") if isinstance(body, Mapping) else None
    return [item_from_json(r) for r in results or () if isinstance(r, Mapping)]


def next_after(body: Any) -> str | None:
    """``paging.next.after``, absent on the last page."""
    paging = body.get("paging") if isinstance(body, Mapping) else None
    following = paging.get("next") if isinstance(paging, Mapping) else None
    after = following.get("after") if isinstance(following, Mapping) else None
    return str(after) if after is not None else None


def body_text(properties: dict[str, Any]) -> str | None:
    """The first engagement body as plain text (HubSpot stores notes as HTML)."""
    for name in _BODIES:
        value = properties.get(name)
        if value:
            text = " ".join(html.unescape(_TAGS.sub(" ", str(value))).split())
            return text[:500] or None
    return None


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value is not None else None


def updated_at(obj: HubSpotObject, item: Item) -> datetime | None:
    """The source's own modification time: the modified property, else ``updatedAt``."""
    props = item.properties or {}
    return parse_datetime(props.get(obj.modified_prop)) or parse_datetime(item.updated_at)


def modified_ms(obj: HubSpotObject, item: Item) -> int:
    stamp = updated_at(obj, item)
    return int(stamp.timestamp() * 1000) if stamp else 0


def is_own_pop(obj: HubSpotObject, item: Item) -> bool:
    """Threadline's own pop notes/calls: kept out of the timeline they summarise."""
    if obj.object_type not in ("note", "call"):
        return False
    props = item.properties or {}
    body = props.get("hs_note_body") or props.get("hs_call_body") or ""
    return POP_MARKER in body


def to_record(
    obj: HubSpotObject,
    item: Item,
    portal_id: int,
    associations: dict[str, list[str]] | None = None,
) -> SourceRecord:
    assoc = dict(associations or {})
    for name, ids in item.associations.items():
        assoc[name] = list(dict.fromkeys([*assoc.get(name, []), *ids]))
    data = {
        "id": item.id,
        "properties": dict(item.properties),
        "created_at": _iso(item.created_at),
        "updated_at": _iso(item.updated_at),
        "associations": assoc,
        "portal_id": portal_id,
        "body_text": body_text(item.properties),
    }
    return SourceRecord(obj.object_type, item.id, data, updated_at(obj, item))


def _chunks(ids: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def contact_associations(
    api: HubSpotApi, obj: HubSpotObject, ids: Sequence[str], priority: str = "live"
) -> dict[str, list[str]]:
    """Engagement id → associated contact ids (one v4 batch read per 1,000 ids)."""
    import hubspot.crm.associations.v4 as v4

    found: dict[str, list[str]] = {}
    for chunk in _chunks(list(dict.fromkeys(ids)), ASSOC_READ_MAX):
        body = v4.BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[v4.PublicFetchAssociationsBatchRequest(id=i) for i in chunk]
        )
        answer = api.call(
            lambda c, b: c.crm.associations.v4.batch_api.get_page_with_http_info(
                obj.api_name, "contacts", b, _request_timeout=api.settings.timeout_seconds
            ),
            body,
            what=f"{obj.api_name} associations batch read",
            priority=priority,
        )
        for row in answer.results or []:
            found[str(row._from.id)] = [str(t.to_object_id) for t in row.to or []]
    return found


def properties_for(api: HubSpotApi, obj: HubSpotObject) -> list[str]:
    """The built-in properties plus any custom ones configured for this object type."""
    extra = api.settings.properties.get(obj.object_type, [])
    return list(dict.fromkeys([*obj.properties, *extra]))


def build_records(
    api: HubSpotApi, obj: HubSpotObject, items: Sequence[Item], priority: str = "live"
) -> list[SourceRecord]:
    """Records for a page of SDK objects; engagements get their contacts, and those
    with no contact (nobody's timeline) or that are Threadline's own pops are left out."""
    items = [i for i in items if not is_own_pop(obj, i)]
    if not obj.engagement:
        return [to_record(obj, i, api.settings.portal_id) for i in items]
    missing = [i.id for i in items if not i.associations]
    contacts = contact_associations(api, obj, missing, priority) if missing else {}
    records = [
        to_record(obj, i, api.settings.portal_id, {"contacts": contacts.get(i.id, [])})
        for i in items
    ]
    return [r for r in records if r.data["associations"].get("contacts")]


def hydrate(
    api: HubSpotApi, obj: HubSpotObject, ids: Sequence[str], priority: str = "live"
) -> dict[str, SourceRecord | None]:
    """Batch-read ``ids`` (100 per call); an id HubSpot no longer has maps to None."""
    models = obj.models()
    props = properties_for(api, obj)
    unique = list(dict.fromkeys(str(i) for i in ids))
    items: list[Item] = []
    for chunk in _chunks(unique, BATCH_READ_MAX):
        body = models.BatchReadInputSimplePublicObjectId(
            properties=props,
            properties_with_history=[],
            inputs=[models.SimplePublicObjectId(id=i) for i in chunk],
        )
        answer = api.call(
            lambda c, b: obj.discovery(c).batch_api.read_with_http_info(
                b,
                archived=False,
                _request_timeout=api.settings.timeout_seconds,
                _preload_content=False,
            ),
            body,
            what=f"{obj.api_name} batch read",
            priority=priority,
            raw=True,
        )
        items.extend(items_from_json(answer))
    found: dict[str, SourceRecord | None] = dict.fromkeys(unique)
    for record in build_records(api, obj, items, priority):
        found[record.external_id] = record
    return found
