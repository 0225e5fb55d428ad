"""Access tokens: a private-app token as configured, or OAuth tokens refreshed ahead of
expiry and serialised across workers.

HubSpot facts (../shared/protocols.md §1.8): ``POST /oauth/v1/token`` with
``grant_type=refresh_token`` answers ``{"access_token", "refresh_token", "expires_in":
1800}``; refresh tokens do not rotate but we store whichever one comes back; a dead
refresh token is a 400 with ``status: BAD_REFRESH_TOKEN`` or ``error: invalid_grant``.

We refresh when less than ``refresh_margin_seconds`` remain (from the stored
``expires_in``) instead of waiting for a 401, and we do it inside
``context.locked_state("oauth")``: a second worker (thread, process or host) waiting on
that lock then finds the fresh token and does not refresh again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import hubspot

from hub.errors import FatalConnectorError, RetriableError

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotSettings
    from hub.context import ConnectorContext

log = logging.getLogger(__name__)
STATE_KEY = "oauth"


def api_error_fields(exc: BaseException) -> dict[str, Any]:
    """What may be logged about an SDK error: class, status and HubSpot's own codes.

    Never the exception's string: hubspot-api-client puts the whole response body
    (which can hold personal data) into it.
    """
    import json

    fields: dict[str, Any] = {
        "error_class": type(exc).__name__,
        "status": getattr(exc, "status", None),
    }
    try:
        body = json.loads(getattr(exc, "body", None) or "{}")
    except (TypeError, ValueError):
        body = {}
    if isinstance(body, dict):
        for ours, theirs in (
            ("category", "category"),
            ("correlation_id", "correlationId"),
            ("policy", "policyName"),
            ("hubspot_status", "status"),
            ("oauth_error", "error"),
        ):
            value = body.get(theirs)
            if isinstance(value, str | int):
                fields[ours] = value
    return fields


def is_api_exception(exc: BaseException) -> bool:
    """Each SDK package has its own ``ApiException`` class; match any of them."""
    return any(cls.__name__ == "ApiException" for cls in type(exc).__mro__)


class TokenSource:
    """Hands out a valid bearer token for every call."""

    def __init__(
        self,
        settings: HubSpotSettings,
        connector: str,
        context: Callable[[], ConnectorContext],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.connector = connector
        self._context = context
        self.clock = clock
        self._cached: dict[str, Any] | None = None
        self.refreshes = 0  # refreshes this instance performed (for checks and tests)

    @property
    def oauth(self) -> bool:
        return self.settings.access_token is None

    def token(self) -> str:
        """A token that stays valid for at least the refresh margin."""
        if self.settings.access_token is not None:
            return self.settings.access_token.get_secret_value()
        cached = self._cached
        if cached and self._fresh(cached):
            return str(cached["access_token"])
        return self._refresh_if_needed(stale=None)

    def invalidate(self, token: str) -> str:
        """A call was refused with this token (revoked, clock skew): refresh once."""
        if not self.oauth:
            raise FatalConnectorError(
                "HubSpot refused the private app token: check it is current and not revoked",
                connector=self.connector,
                code="INVALID_AUTHENTICATION",
            )
        return self._refresh_if_needed(stale=token)

    def _fresh(self, state: dict[str, Any]) -> bool:
        margin = self.settings.refresh_margin_seconds
        return bool(state.get("access_token")) and float(state.get("expires_at", 0)) - margin > (
            self.clock()
        )

    def _refresh_if_needed(self, stale: str | None) -> str:
        context = self._context()
        _ensure_row(context)
        with context.locked_state(STATE_KEY) as handle:
            state = handle.value
            if state and self._fresh(state) and state["access_token"] != stale:
                self._cached = dict(state)
                return str(state["access_token"])
            new = self._refresh(state)
            handle.set(new)
        self._cached = new
        return str(new["access_token"])

    def _refresh(self, state: dict[str, Any] | None) -> dict[str, Any]:
        settings = self.settings
        if not (settings.client_id and settings.client_secret and settings.refresh_token):
            raise FatalConnectorError(
                "OAuth needs client_id, client_secret and refresh_token", connector=self.connector
            )
        refresh_token = (state or {}).get("refresh_token") or (
            settings.refresh_token.get_secret_value()
        )
        client = hubspot.Client.create(host=settings.api_host)
        self._context().count_api_call()
        try:
            answer = client.oauth.tokens_api.create(
                grant_type="refresh_token",
                client_id=settings.client_id,
                client_secret=settings.client_secret.get_secret_value(),
                refresh_token=refresh_token,
                _request_timeout=settings.timeout_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - every SDK package has its own ApiException
            if not is_api_exception(exc):
                raise RetriableError(
                    "HubSpot's token endpoint is unreachable",
                    connector=self.connector,
                    retry_after=30,
                ) from None
            fields = api_error_fields(exc)
            log.warning(
                "hubspot.oauth_refresh_failed", extra={"connector": self.connector, **fields}
            )
            status = getattr(exc, "status", 0) or 0
            if status == 429 or status >= 500:
                raise RetriableError(
                    "HubSpot's token endpoint is busy", connector=self.connector, retry_after=30
                ) from None
            raise FatalConnectorError(
                "HubSpot refused the OAuth refresh token (revoked, or the app was "
                "uninstalled): reinstall the app and update refresh_token",
                connector=self.connector,
                code=str(fields.get("hubspot_status", "")),
            ) from None
        self.refreshes += 1
        log.info(
            "hubspot.oauth_refreshed",
            extra={"connector": self.connector, "expires_in": answer.expires_in},
        )
        return {
            "access_token": answer.access_token,
            "refresh_token": answer.refresh_token or refresh_token,
            "expires_at": self.clock() + float(answer.expires_in or 0),
        }


def _ensure_row(context: ConnectorContext) -> None:
    """Make sure the ``oauth`` state row exists before we lock it.

    ``StoreContext.locked_state`` locks with ``SELECT … FOR UPDATE``, which on
    PostgreSQL locks nothing while the row does not exist yet: two workers would both
    see "no token" and both refresh. Creating the (empty) row first makes the lock
    real. (Hub change requested: create-then-lock inside ``locked_state``, as
    ``take_budget`` already does.)
    """
    from sqlalchemy.exc import IntegrityError

    if context.get_state(STATE_KEY) is not None:
        return
    try:
        with context.locked_state(STATE_KEY) as handle:
            if handle.value is None:
                handle.set({})
    except IntegrityError:
        # Another worker inserted the row between our read and our insert: it exists,
        # which is all we wanted; the refresh itself happens under the lock.
        log.debug("hubspot.oauth_state_row_raced")
