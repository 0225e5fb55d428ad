"""Pull streams: contacts, companies, calls, emails, notes and meetings.

Incremental runs use the search API, filtered and sorted ascending on the modified
property (``lastmodifieddate`` for contacts, ``hs_lastmodifieddate`` for the rest) with
``hs_object_id`` as the tie-breaker, and persist ``{"since": ms, "last_id": id}``: the
last record of every page, so any page's cursor is a complete restart point.

HubSpot facts (../shared/protocols.md §1.4): "The search endpoints are limited to 10,000
total results for any given query. Attempting to page beyond 10,000 will result in a
400 error"; ``after`` is an offset; one sort rule; ``total`` counts every match.

So no query is paged past ``search_window`` results: the window restarts with
``modified > since OR (modified = since AND hs_object_id > last_id)``. The default
window is a single page (keyset paging), because offset paging over a sort key that
moves while we read skips a record each time one ahead of the offset is modified; a
larger window (up to 10,000) pages by offset as HubSpot's guide shows. A 400 on a
page with ``after > 0`` is taken as the cap arriving early and restarts the window too.

A full backfill (``threadline sync hubspot --full``: the hub sets ``priority =
"backfill"``) lists every object with ``basic_api.get_page`` and ``after`` instead,
resumable from ``{"after": …, "read": n}``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from connectors.hubspot.client import HubSpotApi, HubSpotRequestError
from connectors.hubspot.objects import OBJECTS, HubSpotObject
from connectors.hubspot.records import (
    build_records,
    items_from_json,
    modified_ms,
    next_after,
    properties_for,
)
from hub.errors import ConnectorError
from hub.plugin import Page, SourceRecord, Stream

log = logging.getLogger(__name__)
LIST_PAGE_MAX = 100
SEARCH_PAGE_MAX = 200


class ObjectStream(Stream):
    """One CRM object type, incremental by search or a full listing."""

    name: ClassVar[str] = ""
    object_type: ClassVar[str] = ""

    def __init__(self, api: HubSpotApi, obj: HubSpotObject, name: str) -> None:
        self.api = api
        self.obj = obj
        self.name = name  # type: ignore[misc]
        self.object_type = obj.object_type  # type: ignore[misc]
        self.priority = "live"
        self.read_ahead = api.settings.read_ahead

    def read(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        if self.priority == "backfill":
            yield from self._list(cursor)
        else:
            yield from self._search(cursor)

    def estimate(self, cursor: Mapping[str, Any]) -> int | None:
        """Records left: search ``total`` (one call, at most 1 result)."""
        if self.priority == "backfill":
            total = self._query({}, limit=1).get("total")
            return max(int(total or 0) - int(cursor.get("read", 0)), 0)
        since, last_id = self._start(cursor)
        return int(self._query(self._body(since, last_id), limit=1).get("total") or 0)

    # ---- incremental ------------------------------------------------------------------

    def _start(self, cursor: Mapping[str, Any]) -> tuple[int, int | None]:
        since = int(cursor.get("since", 0))
        last_id = cursor.get("last_id")
        lookback = self.api.settings.lookback_seconds * 1000
        if since and lookback:
            # Search indexing lags writes by "a few moments": re-read a little.
            return max(since - lookback, 0), None
        return since, int(last_id) if last_id is not None else None

    def _body(self, since: int, last_id: int | None) -> dict[str, Any]:
        mod = self.obj.modified_prop
        if last_id is None:
            groups = [{"filters": [{"propertyName": mod, "operator": "GTE", "value": str(since)}]}]
        else:
            groups = [
                {"filters": [{"propertyName": mod, "operator": "GT", "value": str(since)}]},
                {
                    "filters": [
                        {"propertyName": mod, "operator": "EQ", "value": str(since)},
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(last_id)},
                    ]
                },
            ]
        return {"filterGroups": groups, "sorts": [{"propertyName": mod, "direction": "ASCENDING"}]}

    def _query(
        self,
        body: dict[str, Any],
        *,
        limit: int,
        after: int = 0,
        properties: list[str] | None = None,
    ) -> dict[str, Any]:
        """One search call; the answer's JSON (``total``, ``results``, ``paging``)."""
        models = self.obj.models()
        request = models.PublicObjectSearchRequest(
            filter_groups=[
                models.FilterGroup(
                    filters=[
                        models.Filter(
                            property_name=f["propertyName"],
                            operator=f["operator"],
                            value=f["value"],
                        )
                        for f in g["filters"]
                    ]
                )
                for g in body.get("filterGroups", [])
            ],
            sorts=body.get("sorts", []),
            properties=properties or ["hs_object_id"],
            limit=limit,
            after=str(after) if after else None,
        )
        answer = self.api.call(
            lambda c: self.obj.discovery(c).search_api.do_search_with_http_info(
                request,
                _request_timeout=self.api.settings.timeout_seconds,
                _preload_content=False,
            ),
            what=f"{self.obj.api_name} search",
            priority=self.priority,
            search=True,
            raw=True,
        )
        return answer if isinstance(answer, dict) else {}

    def _search(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        settings = self.api.settings
        limit = min(settings.page_size, SEARCH_PAGE_MAX)
        window = max(settings.search_window, limit)
        props = properties_for(self.api, self.obj)
        since, last_id = self._start(cursor)
        window_from = (since, last_id)  # the query's filter; moves only on a restart
        after, restarts = 0, set()
        while True:
            if after and after + limit > window:
                after = 0  # restart the window at the last (timestamp, id) seen
            if after == 0:
                window_from = (since, last_id)
                if window_from in restarts:
                    raise ConnectorError(
                        f"HubSpot {self.obj.api_name} search made no progress at {window_from}",
                        code="LOOP",
                    )
                restarts.add(window_from)
            try:
                answer = self._query(
                    self._body(*window_from), limit=limit, after=after, properties=props
                )
            except HubSpotRequestError as exc:
                if exc.status == 400 and after > 0:
                    log.info(
                        "hubspot.search_cap_reached", extra={"stream": self.name, "after": after}
                    )
                    after = 0
                    continue
                raise
            items = items_from_json(answer)
            if not items:
                return
            last = items[-1]
            since, last_id = modified_ms(self.obj, last), int(last.id)
            records = build_records(self.api, self.obj, items, self.priority)
            yield Page(records=records, cursor={"since": since, "last_id": last_id})
            following = next_after(answer)
            if following is None:
                return
            after = int(following) if window > limit else 0

    # ---- full backfill ----------------------------------------------------------------

    def _list(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        if cursor.get("done"):
            return
        after = cursor.get("after")
        read = int(cursor.get("read", 0))
        props = properties_for(self.api, self.obj)
        assoc = ["contacts"] if self.obj.engagement else None
        limit = min(self.api.settings.page_size, LIST_PAGE_MAX)
        gather = self.api.settings.backfill_page_records
        records: list[SourceRecord] = []
        while True:
            answer = self.api.call(
                lambda c, a: self.obj.discovery(c).basic_api.get_page_with_http_info(
                    limit=limit,
                    after=a,
                    properties=props,
                    associations=assoc,
                    archived=False,
                    _request_timeout=self.api.settings.timeout_seconds,
                    _preload_content=False,
                ),
                after,
                what=f"{self.obj.api_name} list",
                priority=self.priority,
                raw=True,
            )
            items = items_from_json(answer)
            read += len(items)
            after = next_after(answer)
            records.extend(build_records(self.api, self.obj, items, self.priority))
            if after is None:
                yield Page(records=records, cursor={"after": None, "read": read, "done": True})
                return
            # List pages hold at most 100 records; the hub stores a page per transaction,
            # so a backfill may gather several before handing them over (any list page's
            # ``after`` is a complete restart point).
            if len(records) >= gather:
                yield Page(records=records, cursor={"after": after, "read": read})
                records = []


STREAMS = {
    "contacts": "contact",
    "companies": "company",
    "calls": "call",
    "emails": "email",
    "notes": "note",
    "meetings": "meeting",
}


def make_streams(api: HubSpotApi) -> list[ObjectStream]:
    return [ObjectStream(api, OBJECTS[object_type], name) for name, object_type in STREAMS.items()]
