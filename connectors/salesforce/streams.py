"""Pull streams: keyset paging on (SystemModstamp, Id), then deletes through ``deleted``.

Why keyset paging and not OFFSET: Salesforce caps OFFSET at 2,000 and a query cursor
lives 15 minutes. Each query asks for the records after the committed cursor::

    SELECT … FROM Contact
    WHERE (SystemModstamp > :since OR (SystemModstamp = :since AND Id > :last_id))
      AND SystemModstamp <= :signpost
    ORDER BY SystemModstamp, Id LIMIT :query_limit

and is read in batches of up to 2,000 through ``queryMore`` (``nextRecordsUrl``); each
batch is one :class:`Page` whose cursor the hub commits with its records. ``Id`` breaks
ties, since bulk edits give thousands of records the same ``SystemModstamp``.

- **Signpost** (Singer SDK): the cursor never passes the sync's start time minus one
  second, so a record saved while the sync runs is read again by the next run.
- **Record updated mid-sync**: a query cursor renders records when a batch is fetched, so a
  record edited after the query started appears with its new ``SystemModstamp`` (past the
  signpost). It is emitted (the store keeps the newest version) but never advances the
  cursor, which stays monotone.
- **Lookback**: each run re-reads ``lookback_minutes`` before the cursor (clock skew,
  transactions committing late); replays are harmless because the store is idempotent
  and rejects older versions.
- **Deletes**: ``GET sobjects/X/deleted?start&end`` covers at most 15 days back and is
  floored to the minute; ``latestDateCovered`` becomes the next start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from simple_salesforce import Salesforce

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.objects import ID_RE, SObjectSpec, enrich, is_own_pop, soql_datetime
from connectors.salesforce.settings import SalesforceSettings
from hub.plugin import Page, SourceDeletion, SourceRecord, Stream
from hub.transforms import parse_datetime

log = logging.getLogger(__name__)
#: ``sobjects/X/deleted`` answers for the last 15 days only ("Get Deleted Records").
DELETED_WINDOW = timedelta(days=15) - timedelta(minutes=2)

Key = tuple[datetime, str]


def _query_more(sf: Salesforce, *, url: str, headers: dict[str, str]) -> Any:
    return sf.query_more(url, identifier_is_url=True, headers=headers)


def _key(cursor: Mapping[str, Any]) -> Key | None:
    since = parse_datetime(cursor.get("since"))
    last_id = str(cursor.get("last_id") or "")
    if since is None:
        return None
    return (since, last_id if ID_RE.match(last_id) else "")


class ObjectStream(Stream):
    """One Salesforce object read incrementally; the same code runs a full backfill
    (the hub passes an empty cursor and sets ``priority = "backfill"``)."""

    def __init__(
        self,
        spec: SObjectSpec,
        client: SalesforceClient,
        settings: SalesforceSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.spec = spec
        self.name = spec.stream  # type: ignore[misc]
        self.object_type = spec.object_type  # type: ignore[misc]
        self.client = client
        self.options = settings.stream(spec.stream)
        self.read_ahead = self.options.read_ahead
        self.key_field = settings.pop.task_key_field
        self.clock = clock
        self.priority = "live"

    # -- SOQL --------------------------------------------------------------------------------
    def _where(self, after: Key | None, signpost: datetime) -> str:
        upper = f"SystemModstamp <= {soql_datetime(signpost)}"
        if after is None:
            return upper
        since = soql_datetime(after[0])
        if not after[1]:
            return f"SystemModstamp >= {since} AND {upper}"
        return (
            f"(SystemModstamp > {since} OR (SystemModstamp = {since} AND Id > "
            f"'{after[1]}')) AND {upper}"
        )

    def _soql(self, after: Key | None, signpost: datetime) -> str:
        fields = ", ".join(self.spec.select_fields(self.options.extra_fields))
        # Field names are declared or validated API names, the rest our own literals.
        return (
            f"SELECT {fields} FROM {self.spec.sobject} WHERE {self._where(after, signpost)} "  # noqa: S608
            f"ORDER BY SystemModstamp, Id LIMIT {self.options.query_limit}"
        )

    def _signpost(self) -> datetime:
        return self.clock().replace(microsecond=0) - timedelta(seconds=1)

    def _start(self, cursor: Mapping[str, Any]) -> Key | None:
        key = _key(cursor)
        if key is None or not self.options.lookback_minutes:
            return key
        return (key[0] - timedelta(minutes=self.options.lookback_minutes), "")

    # -- reading -----------------------------------------------------------------------------
    def read(self, cursor: Mapping[str, Any]) -> Iterator[Page]:
        signpost = self._signpost()
        committed = _key(cursor)
        state = dict(cursor)
        after = self._start(cursor)
        while True:
            reached, read_in_query = after, 0
            for records, reached in self._query(after, signpost):
                read_in_query += len(records)
                if reached is not None and (committed is None or reached > committed):
                    committed = reached
                    state.update(since=soql_datetime(reached[0]), last_id=reached[1])
                yield Page(records=records, cursor=dict(state))
            if read_in_query < self.options.query_limit or reached == after:
                break  # exhausted, or a whole query did not advance (loop guard)
            after = reached
        deletions, state = self._deletions(state, signpost)
        if deletions or state != dict(cursor):
            yield Page(deletions=deletions, cursor=state)

    def _query(
        self, after: Key | None, signpost: datetime
    ) -> Iterator[tuple[list[SourceRecord], Key | None]]:
        soql = self._soql(after, signpost)
        headers = {"Sforce-Query-Options": f"batchSize={self.options.page_size}"}
        what = f"query {self.spec.sobject}"
        result = self.client.call(
            what, lambda sf: sf.query(soql, headers=headers), priority=self.priority
        )
        while result is not None:
            records, after = self._convert(result.get("records") or [], after, signpost)
            yield records, after
            next_url = result.get("nextRecordsUrl")
            if result.get("done", True) or not next_url:
                return
            result = self.client.call(
                f"queryMore {self.spec.sobject}",
                partial(_query_more, url=next_url, headers=headers),
                priority=self.priority,
            )

    def _convert(
        self, rows: list[dict[str, Any]], after: Key | None, signpost: datetime
    ) -> tuple[list[SourceRecord], Key | None]:
        records = []
        for row in rows:
            modstamp = parse_datetime(row.get("SystemModstamp"))
            record_id = str(row["Id"])
            if not is_own_pop(self.spec, row, self.key_field):
                records.append(
                    SourceRecord(
                        self.object_type, record_id, enrich(self.spec, row), updated_at=modstamp
                    )
                )
            if modstamp is None or modstamp > signpost:
                continue  # saved during this sync: the next run reads it again
            if after is None or (modstamp, record_id) > after:
                after = (modstamp, record_id)
        return records, after

    def _deletions(
        self, state: dict[str, Any], signpost: datetime
    ) -> tuple[list[SourceDeletion], dict[str, Any]]:
        state = dict(state)
        now = self.clock()
        since = parse_datetime(state.get("deleted_since"))
        if since is None:
            # First run: everything read is live; deletions from now on matter.
            state["deleted_since"] = soql_datetime(signpost)
            return [], state
        start = since - timedelta(minutes=self.options.lookback_minutes)
        if start < now - DELETED_WINDOW:
            log.warning(
                "salesforce.deletes_window_passed",
                extra={"stream": self.name, "hint": "run a full sync to catch up"},
            )
            start = now - DELETED_WINDOW
        if now - start < timedelta(minutes=1):
            return [], state
        sobject = self.spec.sobject
        result = self.client.call(
            f"deleted {sobject}",
            lambda sf: getattr(sf, sobject).deleted(start, now),
            priority=self.priority,
        )
        body = result or {}
        deletions = [
            SourceDeletion(
                self.object_type, str(item["id"]), parse_datetime(item.get("deletedDate"))
            )
            for item in body.get("deletedRecords") or []
            if isinstance(item, dict) and item.get("id")
        ]
        covered = parse_datetime(body.get("latestDateCovered"))
        if covered is not None and covered > since:
            state["deleted_since"] = soql_datetime(covered)
        return deletions, state

    def estimate(self, cursor: Mapping[str, Any]) -> int | None:
        """Records left after ``cursor`` (one ``SELECT COUNT()`` call), for progress."""
        soql = (
            f"SELECT COUNT() FROM {self.spec.sobject} "  # noqa: S608 - declared names only
            f"WHERE {self._where(_key(cursor), self.clock().replace(microsecond=0))}"
        )
        result = self.client.call(
            f"count {self.spec.sobject}", lambda sf: sf.query(soql), priority=self.priority
        )
        return int(result["totalSize"]) if result else None
