"""The Salesforce error table (Airbyte's habit): status and errorCode → what to do.

simple-salesforce raises one exception class per HTTP status and keeps the parsed JSON
error array on ``.content`` (protocols.md §2.3). Its ``str()`` embeds the whole response
body, so nothing here ever formats the exception itself: messages carry the class, the
status, the ``errorCode``, the host and, for INVALID_FIELD, the field name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
)

_COLUMN = re.compile(r"No such column '([A-Za-z0-9_.]+)'")
_TYPE = re.compile(r"sObject type '([A-Za-z0-9_]+)' is not supported")

#: Codes worth retrying inside one call and, failing that, on the next run.
RETRY_CODES = {
    "REQUEST_LIMIT_EXCEEDED",  # 403: daily or concurrent limit (Salesforce never sends 429)
    "SERVER_UNAVAILABLE",
    "UNKNOWN_EXCEPTION",
    "INVALID_QUERY_LOCATOR",  # the cursor expired: restart from the committed cursor
}
#: Codes an administrator must fix; the hint says what to look at.
FATAL_HINTS = {
    "MALFORMED_QUERY": "the query was rejected; check extra_fields in the stream settings",
    "INVALID_FIELD": "the field does not exist or the integration user cannot see it "
    "(field-level security); remove it from extra_fields or grant access",
    "INVALID_TYPE": "the object is not available to the integration user",
    "INSUFFICIENT_ACCESS": "the integration user lacks permission for this object",
    "API_DISABLED_FOR_ORG": "the org's edition has no API access, or the user lacks "
    "the 'API Enabled' permission",
    "API_CURRENTLY_DISABLED": "API access is disabled for this user",
    "INVALID_SESSION_ID": "Salesforce refused a fresh session: check IP restrictions and "
    "session settings of the connected app",
    "INVALID_FIELD_FOR_INSERT_UPDATE": "the integration user cannot write this field",
    "REQUIRED_FIELD_MISSING": "a required field has no value (validation rules?)",
}
NOT_FOUND_CODES = {"NOT_FOUND", "ENTITY_IS_DELETED"}


@dataclass(frozen=True)
class Verdict:
    """What to do about one failed call."""

    action: str  # "retry", "fatal" or "skip"
    status: int | None
    code: str
    host: str
    detail: str = ""

    def describe(self, what: str) -> str:
        """A message naming what failed, the status, errorCode and host; never the body."""
        facts = [
            f"status {self.status}" if self.status else "",
            self.code,
            f"host {self.host}" if self.host else "",
        ]
        text = f"Salesforce {what} failed ({', '.join(f for f in facts if f)})"
        return f"{text}: {self.detail}" if self.detail else text


def _first_error(content: Any) -> dict[str, Any]:
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return content[0]
    return {}


def classify(exc: BaseException) -> Verdict:
    """Sort an exception raised by simple-salesforce or requests into the table."""
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        host = urlsplit(getattr(exc.request, "url", "") or "").hostname or ""
        return Verdict("retry", None, type(exc).__name__, host)
    if isinstance(exc, SalesforceAuthenticationFailed):
        return Verdict("fatal", None, str(exc.code), "", "login refused: check the credentials")
    if not isinstance(exc, SalesforceError):
        return Verdict("fatal", None, type(exc).__name__, "")
    host = urlsplit(exc.url or "").hostname or ""
    error = _first_error(exc.content)
    code = str(error.get("errorCode") or "")
    message = str(error.get("message") or "")
    status = exc.status
    if code in NOT_FOUND_CODES or (status == 404 and not code):
        return Verdict("skip", status, code or "NOT_FOUND", host)
    if code in RETRY_CODES or status >= 500:
        return Verdict("retry", status, code or f"HTTP_{status}", host)
    detail = FATAL_HINTS.get(code, "")
    column = _COLUMN.search(message)
    if column:
        detail = f"field {column.group(1)}: {detail}"
    sobject = _TYPE.search(message)
    if sobject:
        detail = f"object {sobject.group(1)}: {detail}"
    return Verdict("fatal", status, code or f"HTTP_{status}", host, detail)


def log_fields(exc: BaseException, verdict: Verdict) -> dict[str, Any]:
    """What a log line may say about a failure (never the body)."""
    return {
        "error_class": type(exc).__name__,
        "status": verdict.status,
        "error_code": verdict.code,
        "host": verdict.host,
    }
