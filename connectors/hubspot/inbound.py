"""HubSpot webhooks in: verify, split the batch, and interpret each event.

HubSpot facts (../shared/protocols.md §1.1-1.2, §7): the body is a JSON array of at
most 100 events; ``eventId`` alone is "not guaranteed to be unique", so the key is
(portalId, subscriptionId, eventId, objectId, occurredAt); order is not guaranteed
(sequence by ``occurredAt``) and duplicates happen; ``propertyValue`` is always a
string and may be ``REDACTED``; v3 signs method + public URL + body + timestamp (ms)
and requests older than 5 minutes must be rejected.

Hydration: an event says *that* a record changed, not what it is now, so creation,
propertyChange, associationChange and restore events are answered by reading the
record. The worker hands us one event at a time, so ``parse`` stashes the ids of the
whole delivered batch on each event (``threadline_batch``: a batch id and the ids per
object type); the first event of a batch reads them all in one batch read and a
short-lived cache, keyed by the batch id, serves the rest. A later delivery never sees
an earlier delivery's reads.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.objects import HubSpotObject, resolve
from connectors.hubspot.records import hydrate
from hub.plugin import (
    Change,
    Ignored,
    InboundEndpoint,
    InboundEvent,
    SourceDeletion,
    SourceMerge,
    SourceRecord,
)
from hub.transforms import parse_datetime
from webhooks import PayloadError, RawRequest, SignatureError
from webhooks.hubspot import verify_hubspot

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotSettings

log = logging.getLogger(__name__)
HYDRATED = {"creation", "propertyChange", "associationChange", "restore"}
DELETED = {"deletion", "privacyDeletion"}
BATCH_KEY = "threadline_batch"


class HubSpotEvent(BaseModel):
    """The fields we rely on; everything else is kept as sent."""

    model_config = ConfigDict(extra="allow")

    eventId: int
    subscriptionId: int
    portalId: int
    occurredAt: int
    subscriptionType: str = Field(min_length=3, max_length=100)
    objectId: int
    objectTypeId: str | None = None
    primaryObjectId: int | None = None
    mergedObjectIds: list[int] = Field(default_factory=list)


def event_object(event: dict[str, Any]) -> tuple[HubSpotObject | None, str]:
    """(object, action) of ``contact.propertyChange`` or ``object.creation`` + 0-48."""
    prefix, _, action = str(event.get("subscriptionType", "")).partition(".")
    if prefix == "object":
        return resolve(str(event.get("objectTypeId", ""))), action
    return resolve(prefix), action


class HubSpotWebhooks(InboundEndpoint):
    """``POST /webhooks/<connector>``: HubSpot's Webhooks API target URL."""

    def __init__(self, secret: SecretStr, settings: HubSpotSettings, name: str = "") -> None:
        super().__init__(name)
        self._secret = secret.get_secret_value()
        self._require_v3 = settings.require_v3

    def verify(self, raw: RawRequest) -> None:
        try:
            verify_hubspot(raw, self._secret, require_v3=self._require_v3)
        except SignatureError:
            raise
        except Exception as exc:  # noqa: BLE001 - a verifier must be total: any failure is a 401
            raise SignatureError(f"unverifiable HubSpot request ({type(exc).__name__})") from None

    def parse(self, raw: RawRequest) -> list[InboundEvent]:
        try:
            document: Any = json.loads(raw.body)
        except (ValueError, UnicodeDecodeError):
            raise PayloadError("body is not valid JSON") from None
        if not isinstance(document, list):
            raise PayloadError("a HubSpot webhook body is a JSON array of events")
        if len(document) > 1000:
            raise PayloadError("too many events in one request")
        events: list[HubSpotEvent] = []
        for index, item in enumerate(document):
            if not isinstance(item, dict):
                raise PayloadError(f"[{index}]: an event must be a JSON object")
            try:
                events.append(HubSpotEvent.model_validate(item))
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise PayloadError(f"[{index}].{where}: {first['msg']}") from None
        batch = {"id": hashlib.sha256(raw.body).hexdigest()[:16], "ids": _batch_ids(document)}
        return [
            InboundEvent(
                key=_key(e), event_type=e.subscriptionType, payload={**raw_item, BATCH_KEY: batch}
            )
            for e, raw_item in zip(events, document, strict=True)
        ]


def _key(event: HubSpotEvent) -> str:
    return (
        f"{event.portalId}:{event.subscriptionId}:{event.eventId}:{event.objectId}:"
        f"{event.occurredAt}"
    )


def _batch_ids(document: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Object type → ids the batch will need hydrated."""
    wanted: dict[str, list[str]] = {}
    for item in document:
        obj, action = event_object(item)
        if obj is not None and action in HYDRATED:
            ids = wanted.setdefault(obj.object_type, [])
            if str(item["objectId"]) not in ids:
                ids.append(str(item["objectId"]))
    return wanted


class _Cache:
    """Hydrated records for a few seconds: enough for one delivered batch."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._items: dict[tuple[str, str, str], tuple[float, SourceRecord | None]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> tuple[bool, SourceRecord | None]:
        with self._lock:
            found = self._items.get(key)
            if found is None or time.monotonic() - found[0] > self.ttl:
                return False, None
            return True, found[1]

    def put(self, items: dict[tuple[str, str, str], SourceRecord | None]) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._items) > 10_000:
                self._items = {k: v for k, v in self._items.items() if now - v[0] <= self.ttl}
            self._items.update({k: (now, v) for k, v in items.items()})


class Interpreter:
    """Stored webhook event → changes (runs in the worker)."""

    def __init__(self, api: HubSpotApi) -> None:
        self.api = api
        self.cache = _Cache(api.settings.hydration_cache_seconds)
        self.batch_reads = 0  # for tests and metrics: batch reads issued

    def interpret(self, event: InboundEvent) -> Sequence[Change]:
        payload = event.payload
        if payload.get("portalId") != self.api.settings.portal_id:
            return [Ignored(f"event for portal {payload.get('portalId')}, not ours")]
        obj, action = event_object(payload)
        if obj is None:
            return [Ignored(f"no handler for {event.event_type!r}")]
        object_id = str(payload["objectId"])
        at = parse_datetime(payload.get("occurredAt"))
        if action in DELETED:
            return [SourceDeletion(obj.object_type, object_id, at)]
        if action == "merge":
            primary = str(payload.get("primaryObjectId") or object_id)
            merged = tuple(
                str(i) for i in payload.get("mergedObjectIds") or () if str(i) != primary
            )
            # The primary's record first: the hub merges into a record it must know.
            record = self._record(obj, primary, payload)
            return [
                *([record] if record else []),
                SourceMerge(obj.object_type, primary, merged, at),
            ]
        if action in HYDRATED:
            changes: list[Change] = []
            record = self._record(obj, object_id, payload)
            if record is not None:
                changes.append(record)
            if action == "associationChange":
                changes += self._other_side(obj, payload)
            return changes or [Ignored(f"{obj.object_type} {object_id} no longer exists")]
        return [Ignored(f"no handler for {event.event_type!r}")]

    def _record(
        self, obj: HubSpotObject, object_id: str, payload: dict[str, Any]
    ) -> SourceRecord | None:
        stashed = payload.get(BATCH_KEY)
        batch: dict[str, Any] = stashed if isinstance(stashed, dict) else {}
        batch_id = str(batch.get("id", ""))
        ids_by_type = batch.get("ids")
        per_type: dict[str, Any] = ids_by_type if isinstance(ids_by_type, dict) else {}
        hit, record = self.cache.get((batch_id, obj.object_type, object_id))
        if hit and batch_id:
            return record
        ids = [str(i) for i in per_type.get(obj.object_type, [])] if batch_id else []
        found = hydrate(self.api, obj, list(dict.fromkeys([object_id, *ids])))
        self.batch_reads += 1
        self.cache.put({(batch_id, obj.object_type, i): r for i, r in found.items()})
        return found.get(object_id)

    def _other_side(self, obj: HubSpotObject, payload: dict[str, Any]) -> list[Change]:
        """``CONTACT_TO_CALL``: the engagement's interaction must follow its new contact."""
        kind = str(payload.get("associationType", ""))
        _, _, other_name = kind.lower().partition("_to_")
        other = resolve(other_name) if other_name else None
        to_id = payload.get("toObjectId")
        if other is None or other.object_type == obj.object_type or to_id is None:
            return []
        found = hydrate(self.api, other, [str(to_id)])  # always fresh: its contact moved
        self.batch_reads += 1
        record = found.get(str(to_id))
        return [record] if record else []
