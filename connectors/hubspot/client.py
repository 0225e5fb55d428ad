"""Every HubSpot API call goes through :class:`HubSpotApi.call`: budget first, then
the SDK, then the rate headers, with 429s and 5xx retried a bounded number of times.

HubSpot facts (../shared/protocols.md §1.5): limits are per portal (private apps
100 requests/10 s and 250k/day on Free/Starter, 190/10 s on Pro/Enterprise; OAuth
apps 110/10 s; search 5/s); responses carry ``X-HubSpot-RateLimit-Max/-Remaining``
and ``-Daily/-Daily-Remaining`` (search responses only the daily pair); a 429 carries
``policyName`` (``TEN_SECONDLY_ROLLING``, ``SECONDLY``, ``DAILY``) and no reliable
``Retry-After``. hubspot-api-client has no 429 handling and raises
``hubspot.crm.<api>.ApiException`` with ``.status``, ``.body`` and ``.headers``.

Error table (Airbyte's habit: status → action → what the user should fix):

| status | action | |
|---|---|---|
| 429 ``DAILY`` | defer until midnight UTC | raise the daily limit or wait |
| 429 other, 5xx, network | wait and retry, then ``RetriableError`` | none |
| 401 | OAuth: refresh once and retry; private app: fatal | reconnect / new token |
| 403 | fatal | grant the missing scopes (README) |
| 404 | :class:`NotFound` | none (the caller decides) |
| other 4xx | :class:`HubSpotRequestError` | a connector bug or bad config |
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import hubspot
import urllib3

from connectors.hubspot.auth import TokenSource, api_error_fields, is_api_exception
from hub.context import ConnectorContext
from hub.errors import ConnectorError, FatalConnectorError, RetriableError

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Calls a backfill reserves from a shared budget at a time (capped by take_leased).
BACKFILL_BLOCK = 50


class HubSpotRequestError(ConnectorError):
    """HubSpot refused a request (4xx other than 401/403/404/429)."""

    def __init__(self, message: str, *, connector: str, status: int, category: str) -> None:
        super().__init__(message, connector=connector, code=category)
        self.status = status
        self.category = category


class NotFound(HubSpotRequestError):
    """404: the object does not exist (or no longer does)."""


class _CachingFactory:
    """hubspot-api-client builds a new ApiClient (and connection pool) on every
    ``client.crm.contacts.basic_api`` access; reuse one per API and swap the token."""

    def __init__(self) -> None:
        self._apis: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, package: Any, api_name: str, config: dict[str, Any]) -> Any:
        key = (package.__name__, api_name)
        with self._lock:
            api = self._apis.get(key)
            if api is None:
                configuration = package.Configuration()
                for name, value in config.items():
                    setattr(configuration, name, value)
                # The SDK hands urllib3 its default of 3 hidden retries per request;
                # retries are ours (bounded, budgeted, logged), so the transport does none.
                configuration.retries = 0
                api_client = package.ApiClient(configuration=configuration)
                api_client.user_agent = "hubspot-api-client-python; threadline"
                api = getattr(package, api_name)(api_client=api_client)
                self._apis[key] = api
            api.api_client.configuration.access_token = config.get("access_token")
            return api


class HubSpotApi:
    """The connector's one door to HubSpot."""

    def __init__(
        self, settings: HubSpotSettings, connector: str, context: Callable[[], ConnectorContext]
    ) -> None:
        self.settings = settings
        self.connector = connector
        self._context = context
        self.tokens = TokenSource(settings, connector, context)
        self.sleep: Callable[[float], None] = time.sleep
        self._factory = _CachingFactory()
        portal = settings.portal_id
        self.bucket_10s = f"hubspot:{portal}:10s"
        self.bucket_daily = f"hubspot:{portal}:daily"
        self.bucket_search = f"hubspot:{portal}:search"

    # ---- budgets ----------------------------------------------------------------------

    def context(self) -> ConnectorContext:
        return self._context()

    def _take_budget(self, priority: str, search: bool, deadline: float) -> None:
        """Wait (bounded) until the shared budgets allow one more call."""
        limits = self.settings.rate_limits
        buckets = [
            (self.bucket_daily, limits.daily, 86_400.0),
            (self.bucket_10s, limits.per_ten_seconds, 10.0),
        ]
        if search:
            buckets.append((self.bucket_search, limits.search_per_second, 1.0))
        # A backfill takes its calls in blocks (hub/context.py take_leased); live work
        # one by one, so a block never sits idle in a process that makes few calls.
        block = BACKFILL_BLOCK if priority == "backfill" else 1
        context = self.context()
        for bucket, limit, window in buckets:
            while (
                wait := context.take_leased(
                    bucket, limit=limit, window_seconds=window, priority=priority, block=block
                )
            ) > 0:
                if window == 86_400.0 or time.monotonic() + wait > deadline:
                    raise RetriableError(
                        f"HubSpot API budget {bucket} is spent for now ({priority})",
                        connector=self.connector,
                        code="BUDGET",
                        retry_after=wait,
                    )
                self.sleep(wait)

    def _observe(self, headers: Any) -> None:
        """Feed HubSpot's own counters to the shared budgets (other apps share them)."""
        if not headers:
            return
        context = self.context()
        for bucket, limit_h, left_h, window in (
            (self.bucket_10s, "X-HubSpot-RateLimit-Max", "X-HubSpot-RateLimit-Remaining", 10),
            (
                self.bucket_daily,
                "X-HubSpot-RateLimit-Daily",
                "X-HubSpot-RateLimit-Daily-Remaining",
                86_400,
            ),
        ):
            limit, left = headers.get(limit_h), headers.get(left_h)
            if limit is None or left is None:
                continue
            try:
                total, remaining = int(limit), int(left)
            except ValueError:
                continue
            configured = (
                self.settings.rate_limits.per_ten_seconds
                if window == 10
                else self.settings.rate_limits.daily
            )
            used, limit_now = max(total - remaining, 0), min(total, configured)
            if used * 2 < limit_now:
                # Below half the limit HubSpot's count cannot change a decision: budgets
                # refuse at 80 % (backfill) or more, and every answer reports the count
                # again, so it is stored from the first answer past half. Skipping saves
                # a write transaction per call.
                continue
            context.observe_budget(bucket, used=used, limit=limit_now, window_seconds=window)

    # ---- calls ------------------------------------------------------------------------

    def client(self) -> Any:
        return hubspot.Client.create(
            access_token=self.tokens.token(), host=self.settings.api_host, api_factory=self._factory
        )

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        what: str,
        priority: str = "live",
        search: bool = False,
        raw: bool = False,
    ) -> Any:
        """Run ``fn(client, *args)`` (an SDK ``*_with_http_info`` call); return its data.

        ``priority="backfill"`` leaves the hub's reserve of each budget to live work.
        ``raw``: ``fn`` passes ``_preload_content=False`` and the answer is its parsed
        JSON (see connectors/hubspot/records.py for why).
        """
        limits = self.settings.rate_limits
        deadline = time.monotonic() + limits.max_wait_seconds
        refreshed = False
        for attempt in range(limits.max_retries + 1):
            self._take_budget(priority, search, deadline)
            client = self.client()
            self.context().count_api_call()
            try:
                result = fn(client, *args)
            except Exception as exc:  # noqa: BLE001 - every SDK package has its own ApiException
                delay = self._failure(exc, what, attempt, refreshed, client)
                if delay is None:  # a 401 with OAuth: the token was refreshed
                    refreshed = True
                    continue
                if time.monotonic() + delay > deadline or attempt == limits.max_retries:
                    raise RetriableError(
                        f"HubSpot {what}: still failing after retries ({_describe(exc)})",
                        connector=self.connector,
                        code="RETRY_EXHAUSTED",
                        retry_after=max(delay, 1.0),
                    ) from None
                self.sleep(delay)
                continue
            if raw:
                return self._json(result, what)
            if isinstance(result, tuple) and len(result) == 3:
                data, _status, headers = result
                self._observe(headers)
                return data
            return result
        raise RetriableError(
            f"HubSpot {what}: still failing after retries",
            connector=self.connector,
            retry_after=1.0,
        )

    def _json(self, response: Any, what: str) -> Any:
        """An undecoded 2xx answer's JSON; its connection goes back to the pool."""
        try:
            self._observe(response.headers)
            return json.loads(response.data) if response.data else None
        except ValueError:
            raise RetriableError(
                f"HubSpot {what}: the answer was not JSON",
                connector=self.connector,
                code="BAD_ANSWER",
                retry_after=5.0,
            ) from None
        finally:
            response.release_conn()

    def _failure(
        self, exc: Exception, what: str, attempt: int, refreshed: bool, client: Any
    ) -> float | None:
        """Classify one failed call: a delay to retry after, None to retry at once
        with a refreshed token, or raise."""
        base = self.settings.rate_limits.retry_base_seconds
        if not is_api_exception(exc):
            if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
                log.warning(
                    "hubspot.network_error",
                    extra={
                        "connector": self.connector,
                        "what": what,
                        "error_class": type(exc).__name__,
                    },
                )
                return base * 2**attempt
            raise exc
        fields = api_error_fields(exc)
        status = int(fields.get("status") or 0)
        log.warning(
            "hubspot.api_error",
            extra={"connector": self.connector, "what": what, "attempt": attempt, **fields},
        )
        if status == 429:
            self._observe(getattr(exc, "headers", None))
            if fields.get("policy") == "DAILY":
                tomorrow = (datetime.now(UTC) + timedelta(days=1)).replace(
                    hour=0, minute=0, second=0, microsecond=0
                )
                raise RetriableError(
                    "HubSpot's daily API limit is reached",
                    connector=self.connector,
                    code="DAILY",
                    retry_after=(tomorrow - datetime.now(UTC)).total_seconds(),
                )
            retry_after = _retry_after(getattr(exc, "headers", None))
            return retry_after if retry_after is not None else base * 2**attempt
        if status >= 500 or status == 0:
            return base * 2**attempt
        if status == 401 and self.tokens.oauth and not refreshed:
            self.tokens.invalidate(client.access_token)
            return None
        if status in (401, 403):
            hint = (
                "grant the app the scopes listed in connectors/hubspot/README.md"
                if status == 403
                else "reconnect HubSpot: the token is not accepted"
            )
            raise FatalConnectorError(
                f"HubSpot {what}: {fields.get('category', status)}; {hint}",
                connector=self.connector,
                code=str(fields.get("category", status)),
            ) from None
        error = NotFound if status == 404 else HubSpotRequestError
        raise error(
            f"HubSpot {what}: HTTP {status} {fields.get('category', '')}".strip(),
            connector=self.connector,
            status=status,
            category=str(fields.get("category", "")),
        ) from None


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _describe(exc: Exception) -> str:
    """The status or network error of a failure, never its body (bodies carry data)."""
    status = getattr(exc, "status", None)
    return f"HTTP {status}" if status else type(exc).__name__
