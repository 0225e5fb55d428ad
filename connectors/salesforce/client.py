"""One Salesforce client per connector: login, re-login, the error table and API budgets.

Every API call goes through simple-salesforce. Logins use ``SalesforceLogin`` (SOAP,
JWT bearer) or the OAuth token endpoint (refresh token, which simple-salesforce does not
implement), and the client is then built in "direct session" mode. simple-salesforce
only re-logs in by itself when it holds login credentials, and then its ``SFType`` path
recurses forever on repeated 401s (protocols.md §2.3), so here it never holds them: a
401 INVALID_SESSION_ID raises ``SalesforceExpiredSession`` and :meth:`call` logs in again
exactly once per call.

Budgets: Salesforce counts every REST call against the org's rolling 24-hour
``DailyApiRequests`` allocation and reports ``Sforce-Limit-Info: api-usage=N/M`` on each
response ("API Request Limits and Allocations"). The client reports that usage to the
hub's shared budget (``salesforce:<org>:daily``) and asks the budget before each call:
live work may use ``live_budget_share`` (95 %) of it, a backfill stops at 80 % of the
allocation (the hub's ``BACKFILL_RESERVE``) with ``RetriableError`` so the run resumes
later from its committed cursor.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession
from simple_salesforce.login import SalesforceLogin

from connectors.salesforce.errors import classify, log_fields
from connectors.salesforce.settings import SalesforceSettings
from hub.context import ConnectorContext
from hub.errors import FatalConnectorError, RetriableError, SkippableError

log = logging.getLogger(__name__)
T = TypeVar("T")
DAY = 86400.0
REQUEST_TIMEOUT = 30.0
#: retry_after when a call still fails after its in-call retries.
RETRY_AFTER = {"REQUEST_LIMIT_EXCEEDED": 300.0}
DEFAULT_RETRY_AFTER = 30.0


def _with_timeout(request: Callable[..., requests.Response], *args: Any, **kw: Any) -> Any:
    kw.setdefault("timeout", REQUEST_TIMEOUT)
    return request(*args, **kw)


class SalesforceClient:
    """A logged-in simple-salesforce client plus the policy around every call.

    Args:
        connector: the connector's name (budget bucket and errors).
        settings: the validated settings.
        context: returns the connector's current context (the hub binds it late).
        session_factory: builds the ``requests.Session`` (tests route it to the sandbox).
        sleep: how to wait between retries (tests pass a recorder).
    """

    def __init__(
        self,
        connector: str,
        settings: SalesforceSettings,
        context: Callable[[], ConnectorContext],
        *,
        session_factory: Callable[[], requests.Session] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        slowdown_seconds: float = 1.0,
    ) -> None:
        self.connector = connector
        self.settings = settings
        self._context = context
        self._session_factory = session_factory or self.default_session
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.slowdown_seconds = slowdown_seconds
        self._sf: Salesforce | None = None
        self._usage: tuple[int, int] | None = None
        self._limit = settings.daily_api_limit
        self.logins = 0

    def context(self) -> ConnectorContext:
        """The hub's context (bound late, when the hub builds the connector)."""
        return self._context()

    # -- sessions ------------------------------------------------------------------------------
    def default_session(self) -> requests.Session:
        if self.settings.sandbox_url:
            from connectors.salesforce.sandbox import sandbox_session

            return sandbox_session(self.settings.sandbox_url)
        return requests.Session()

    def _session(self) -> requests.Session:
        session = self._session_factory()
        session.request = partial(_with_timeout, session.request)  # type: ignore[method-assign]
        session.hooks["response"].append(self._capture_usage)
        return session

    def _capture_usage(self, response: requests.Response, *_: Any, **__: Any) -> None:
        header = response.headers.get("Sforce-Limit-Info")
        usage = Salesforce.parse_api_usage(header).get("api-usage") if header else None
        if usage is not None:
            self._usage = (int(usage[0]), int(usage[1]))

    @property
    def bucket(self) -> str:
        return f"salesforce:{self.settings.org_id or self.connector}:daily"

    @property
    def sf(self) -> Salesforce:
        """The logged-in client (logs in on first use)."""
        if self._sf is None:
            self.login()
        assert self._sf is not None
        return self._sf

    @property
    def instance_url(self) -> str:
        return f"https://{self.sf.sf_instance}"

    def login(self) -> Salesforce:
        """Log in with the configured flavour; FatalConnectorError when refused."""
        s = self.settings
        session = self._session()
        try:
            if s.auth == "refresh_token":
                session_id, instance = self._refresh(session)
            else:
                kwargs: dict[str, Any] = {
                    "username": s.username,
                    "session": session,
                    "domain": s.domain,
                    "sf_version": s.api_version,
                }
                if s.auth == "password":
                    kwargs.update(
                        password=_secret(s.password),
                        security_token=_secret(s.security_token),
                        client_id=s.client_id,
                    )
                else:
                    kwargs.update(consumer_key=s.consumer_key, privatekey=_secret(s.private_key))
                session_id, instance = SalesforceLogin(**kwargs)
        except requests.RequestException as exc:
            verdict = classify(exc)
            log.warning("salesforce.login_failed", extra=log_fields(exc, verdict))
            raise RetriableError(
                verdict.describe("login"),
                connector=self.connector,
                code=verdict.code,
                retry_after=DEFAULT_RETRY_AFTER,
            ) from None
        except FatalConnectorError:
            raise
        except Exception as exc:  # noqa: BLE001 - SalesforceAuthenticationFailed and kin
            verdict = classify(exc)
            log.warning("salesforce.login_failed", extra=log_fields(exc, verdict))
            raise FatalConnectorError(
                f"Salesforce login ({s.auth}) refused ({verdict.code}): {_LOGIN_HINTS[s.auth]}",
                connector=self.connector,
                code=verdict.code,
            ) from None
        self._sf = Salesforce(
            session_id=session_id, instance=instance, session=session, version=s.api_version
        )
        self.logins += 1
        self.context().count_api_call()
        return self._sf

    def _refresh(self, session: requests.Session) -> tuple[str, str]:
        """OAuth 2.0 refresh-token grant ("OAuth 2.0 Refresh Token Flow"), which
        simple-salesforce lacks; only the access token and instance come back."""
        s = self.settings
        response = session.post(
            f"https://{s.domain}.salesforce.com/services/oauth2/token",
            data={
                "grant_type": "refresh_token",
                "client_id": s.consumer_key,
                "client_secret": _secret(s.consumer_secret),
                "refresh_token": _secret(s.refresh_token),
            },
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            code = str(body.get("error") or f"HTTP_{response.status_code}")
            log.warning("salesforce.login_failed", extra={"error_code": code, "auth": s.auth})
            raise FatalConnectorError(
                f"Salesforce login (refresh_token) refused ({code}): "
                + _LOGIN_HINTS["refresh_token"],
                connector=self.connector,
                code=code,
            )
        instance = str(body.get("instance_url") or s.instance_url or "")
        return str(body["access_token"]), instance.removeprefix("https://").rstrip("/")

    # -- calls -------------------------------------------------------------------------------
    def call(
        self,
        what: str,
        fn: Callable[[Salesforce], T],
        *,
        priority: str = "live",
        missing_ok: bool = False,
    ) -> T | None:
        """Run one API call under the budget, the re-login rule and the error table."""
        self._spend(priority)
        attempt, relogged = 0, False
        while True:
            attempt += 1
            self.context().count_api_call()
            try:
                result = fn(self.sf)
            except SalesforceExpiredSession as exc:
                if relogged:
                    verdict = classify(exc)
                    raise FatalConnectorError(
                        verdict.describe(what), connector=self.connector, code=verdict.code
                    ) from None
                log.info("salesforce.session_expired", extra={"connector": self.connector})
                self.login()
                relogged = True
                continue
            except (Exception, requests.RequestException) as exc:  # noqa: BLE001 - table below
                verdict = classify(exc)
                log.warning(
                    "salesforce.call_failed",
                    extra={**log_fields(exc, verdict), "what": what, "attempt": attempt},
                )
                if verdict.action == "retry" and attempt < self.max_attempts:
                    self.sleep(self._backoff(attempt))
                    continue
                if verdict.action == "retry":
                    raise RetriableError(
                        verdict.describe(what),
                        connector=self.connector,
                        code=verdict.code,
                        retry_after=RETRY_AFTER.get(verdict.code, DEFAULT_RETRY_AFTER),
                    ) from None
                if verdict.action == "skip":
                    if missing_ok:
                        return None
                    raise SkippableError(
                        verdict.describe(what), connector=self.connector, code=verdict.code
                    ) from None
                raise FatalConnectorError(
                    verdict.describe(what), connector=self.connector, code=verdict.code
                ) from None
            finally:
                self._observe()
            return result

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, bounded by ``backoff_cap``."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto

    def _spend(self, priority: str) -> None:
        limit = self._limit
        if priority != "backfill":
            limit = max(1, int(limit * self.settings.live_budget_share))
        wait = self.context().take_budget(
            self.bucket, limit=limit, window_seconds=DAY, priority=priority
        )
        if wait > 0:
            log.warning(
                "salesforce.budget_exhausted",
                extra={
                    "connector": self.connector,
                    "priority": priority,
                    "retry_after": round(wait),
                },
            )
            raise RetriableError(
                f"Salesforce API budget for {priority} work is spent for now "
                f"(the org allows {self._limit} calls a day); resuming later",
                connector=self.connector,
                code="BUDGET",
                retry_after=wait,
            )
        self._slow_down()

    def _slow_down(self) -> None:
        """Pause a little as usage nears the allocation, so several processes sharing
        an org drift apart instead of hitting the wall together."""
        if self._usage is None or not self.slowdown_seconds:
            return
        used, total = self._usage
        share = used / total if total else 1.0
        if share > 0.75:
            self.sleep(self.slowdown_seconds * min(1.0, (share - 0.75) / 0.2))

    def _observe(self) -> None:
        if self._usage is None:
            return
        used, total = self._usage
        self._limit = total
        self.context().observe_budget(self.bucket, used=used, limit=total, window_seconds=DAY)


_LOGIN_HINTS = {
    "password": "check username, password and security token (reset it under My Personal "
    "Information > Reset My Security Token), and that domain is login, test or your My Domain",
    "refresh_token": "the refresh token was revoked or expired, or the consumer key/secret "
    "are wrong; authorise the connected app again (scopes api, refresh_token)",
    "jwt": "check the consumer key, that the certificate uploaded to the connected app "
    "matches private_key, and that the user's profile is pre-authorised for the app",
}


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""
