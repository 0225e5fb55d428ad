"""The real ``twilio`` REST client, with an HTTP layer that maps errors to the hub's
taxonomy and can point every Twilio host at one base URL (a sandbox on loopback).

The twilio SDK hard-codes ``https://taskrouter.twilio.com`` and ``https://api.twilio.com``
(``twilio.rest.Client``); its ``http_client=`` hook is the supported way to change the
transport. :class:`ThreadlineHttpClient` rewrites scheme and host to ``api_base`` when
one is set, and turns every response of 400 and above into :class:`TwilioApiError`
*before* the SDK builds a ``TwilioRestException``, because that exception drops the
response headers (``Retry-After``) and its ``str()`` embeds the whole body.

Twilio error bodies (https://www.twilio.com/docs/usage/twilios-response) are
``{"code", "message", "more_info", "status"}``; only ``code`` and ``status`` are kept.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from hub.errors import ConnectorError, FatalConnectorError, RetriableError, SkippableError

#: The SDK logs every request line at INFO; keep it out of the hub's logs.
_quiet = logging.getLogger("threadline.twilio.http")
_quiet.setLevel(logging.WARNING)


class TwilioApiError(Exception):
    """A Twilio API answer of 400 or more: status, Twilio error code, host; no body."""

    def __init__(
        self, status: int, *, code: int | None, host: str, method: str, retry_after: float | None
    ) -> None:
        detail = f" (Twilio error {code})" if code else ""
        super().__init__(f"{method} {host} answered {status}{detail}")
        self.status, self.code, self.host, self.retry_after = status, code, host, retry_after


@dataclass(frozen=True)
class ErrorRule:
    """One row of the error table: what a status means for a push, and the fix."""

    kind: type[ConnectorError]
    hint: str


#: Status → outcome. 412 is not here: the caller refetches and merges again.
ERROR_TABLE: dict[int, ErrorRule] = {
    400: ErrorRule(SkippableError, "Twilio rejected the update (invalid parameter)"),
    401: ErrorRule(
        FatalConnectorError,
        "Twilio refused the credentials: check flex_pop.account_sid and the connector's "
        "auth_token (https://www.twilio.com/docs/errors/20003)",
    ),
    403: ErrorRule(
        FatalConnectorError,
        "Twilio forbids this call: the account or API key cannot update TaskRouter tasks "
        "in this workspace",
    ),
    404: ErrorRule(
        SkippableError,
        "the TaskRouter task is gone (completed and canceled tasks are deleted after "
        "about 15 minutes: https://www.twilio.com/docs/taskrouter/limits)",
    ),
}


def as_hub_error(exc: TwilioApiError, what: str, connector: str) -> ConnectorError:
    """The hub error for a Twilio API failure: 429/5xx retriable, the table otherwise."""
    code = str(exc.code or exc.status)
    if exc.status == 429 or exc.status >= 500:
        return RetriableError(
            f"{what}: {exc}", connector=connector, code=code, retry_after=exc.retry_after
        )
    rule = ERROR_TABLE.get(exc.status)
    if rule is None:
        return FatalConnectorError(f"{what}: {exc}", connector=connector, code=code)
    return rule.kind(f"{what}: {exc}: {rule.hint}", connector=connector, code=code)


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta form; Twilio does not send HTTP dates)."""
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < 86_400 else None


def _error_code(text: str) -> int | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, int) else None


class ThreadlineHttpClient(TwilioHttpClient):
    """``TwilioHttpClient`` that may rewrite hosts and raises :class:`TwilioApiError`."""

    def __init__(self, api_base: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout, logger=_quiet)
        self._base = None
        if api_base:
            parts = urlsplit(api_base)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"api_base must be an absolute http(s) URL: {api_base!r}")
            self._base = (parts.scheme, parts.netloc)

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        parts = urlsplit(url)
        host = parts.netloc
        if self._base is not None:
            url = urlunsplit((*self._base, parts.path, parts.query, parts.fragment))
        try:
            response = super().request(
                method, url, params, data, headers, auth, timeout, allow_redirects
            )
        except requests.RequestException as exc:
            raise RetriableError(f"{type(exc).__name__} calling {host}") from None
        if response.status_code >= 400:
            raise TwilioApiError(
                response.status_code,
                code=_error_code(response.text),
                host=host,
                method=method.upper(),
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        return response


def rest_client(
    account_sid: str, auth_token: str, *, api_base: str | None = None, timeout: float = 10.0
) -> Client:
    """A ``twilio.rest.Client`` on :class:`ThreadlineHttpClient`."""
    http: Any = ThreadlineHttpClient(api_base, timeout)
    return Client(account_sid, auth_token, http_client=http)
