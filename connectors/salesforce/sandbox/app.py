"""The sandbox object tests script, and the Flask app factory it serves.

``SalesforceSandbox`` owns one org (store, sessions, cursors, faults, quota) and
its Flask app; nothing is created at import time. Tests drive it through Python
helpers (``expire_sessions()``, ``inject_errors()``, ``update_record()``...), the
CLI and demos through :func:`serve`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from .admin import admin_blueprint
from .auth import auth_blueprint
from .errors import SalesforceError, json_response, server_unavailable
from .faults import ApiQuota, Faults
from .objects import SCREEN_POP_EVENT, STANDARD_OBJECTS
from .query import Cursors
from .schema import SObjectType
from .seed import DEFAULT_COUNTS, seed_store
from .sessions import Credentials, Sessions
from .store import Clock, Record, Store, system_clock

EXTENSION_KEY = "threadline.salesforce_sandbox"


class SalesforceSandbox:
    """One simulated org and the Flask app serving it.

    Args:
        seed: seeds the data generator; same seed and anchor, same records.
        counts: records per type, e.g. ``{"Contact": 5000}``; defaults to a small org.
        anchor: the "now" the seeded history ends at; defaults to the clock's today
            at midnight UTC, so data is stable within a day for a given seed.
        clock: returns aware UTC datetimes; tests may freeze or advance it.
        credentials: who may log in; defaults are loopback-only test values.
        api_daily_limit: the org's DailyApiRequests allocation.
        platform_events: extra platform event types to accept on publish.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        counts: Mapping[str, int] | None = None,
        anchor: datetime | None = None,
        clock: Clock = system_clock,
        credentials: Credentials | None = None,
        api_daily_limit: int = 15000,
        platform_events: tuple[SObjectType, ...] = (SCREEN_POP_EVENT,),
    ) -> None:
        self.credentials = credentials or Credentials()
        self.store = Store(
            (*STANDARD_OBJECTS, *platform_events),
            clock=clock,
            default_owner_id=self.credentials.user_id,
        )
        self.sessions = Sessions(self.credentials.org_id)
        self.cursors = Cursors()
        self.faults = Faults()
        self.quota = ApiQuota(limit=api_daily_limit)
        self.published_events: list[dict[str, Any]] = []
        if anchor is None:
            anchor = clock().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        seed_store(
            self.store,
            seed,
            dict(DEFAULT_COUNTS if counts is None else counts),
            anchor,
            integration_user=(self.credentials.user_id, self.credentials.username),
        )
        self.app = create_app(self)

    # -- sessions ----------------------------------------------------------------------------
    def issue_session(self) -> str:
        """A valid session id without a login round trip (for ``Salesforce(session_id=...)``)."""
        return self.sessions.issue()

    def issue_refresh_token(self) -> str:
        """A refresh token, as if the web-server OAuth flow had granted one."""
        return self.sessions.issue_refresh_token()

    def expire_sessions(self) -> None:
        """Invalidate all sessions: each holder gets one 401 INVALID_SESSION_ID, then
        re-logs in and carries on (new logins are accepted immediately)."""
        self.sessions.expire_all()

    def expire_query_locators(self) -> None:
        """Invalidate all open cursors: the next queryMore is INVALID_QUERY_LOCATOR."""
        self.cursors.expire_all()

    # -- faults ------------------------------------------------------------------------------
    def inject_errors(
        self,
        count: int = 1,
        *,
        status: int = 503,
        error_code: str | None = None,
        message: str | None = None,
        path_contains: str = "",
    ) -> None:
        """Answer the next ``count`` matching REST calls with an error.

        Without ``error_code``, 503 is SERVER_UNAVAILABLE and 403 REQUEST_LIMIT_EXCEEDED.
        """
        defaults = {
            403: ("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
            503: ("SERVER_UNAVAILABLE", server_unavailable().message),
        }
        code, default_message = defaults.get(
            status,
            (
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please include this "
                "ErrorId if you contact support: 1234567890-12345 (-123456789)",
            ),
        )
        error = SalesforceError(status, error_code or code, message or default_message)
        self.faults.inject(error, times=count, path_contains=path_contains)

    def inject_request_limit_exceeded(self, count: int = 1) -> None:
        """The next ``count`` REST calls get 403 REQUEST_LIMIT_EXCEEDED."""
        self.inject_errors(count, status=403)

    def set_delay(self, seconds: float, times: int | None = None) -> None:
        """Slow every REST or login response (or the next ``times``) by ``seconds``."""
        self.faults.set_delay(seconds, times)

    def before_request(
        self, action: Callable[[], object], *, path_contains: str = "", times: int = 1
    ) -> None:
        """Run ``action`` before the next matching request, e.g. edit a record mid-sync."""
        self.faults.add_hook(action, times=times, path_contains=path_contains)

    def set_api_limit(self, limit: int, used: int | None = None) -> None:
        """Set the daily API allocation (and optionally how much is already used)."""
        self.quota.set(limit=limit, used=used)

    # -- records -----------------------------------------------------------------------------
    def _type(self, name: str) -> SObjectType:
        sobject = self.store.type_named(name)
        if sobject is None:
            raise KeyError(f"no sObject type named {name!r} in the sandbox")
        return sobject

    def create_record(self, type_name: str, values: dict[str, Any]) -> str:
        """Create a record with the API's validation; returns its id."""
        return str(self.store.create(self._type(type_name), values)["Id"])

    def update_record(self, type_name: str, record_id: str, values: dict[str, Any]) -> None:
        """Update a record as a user in the org would (bumps SystemModstamp)."""
        self.store.update(self._type(type_name), record_id, values)

    def delete_record(self, type_name: str, record_id: str) -> None:
        """Delete a record to the recycle bin."""
        self.store.delete(self._type(type_name), record_id)

    def get_record(self, type_name: str, record_id: str) -> Record:
        """A copy of a live record as stored (Python values, not JSON strings)."""
        return self.store.get(self._type(type_name), record_id)

    def records(self, type_name: str, *, include_deleted: bool = False) -> list[Record]:
        """Copies of every record of a type, in id order."""
        return [
            dict(r)
            for r in self.store.all_records(self._type(type_name))
            if include_deleted or not r.get("IsDeleted")
        ]


def create_app(sandbox: SalesforceSandbox) -> Flask:
    """Build the Flask app serving ``sandbox``: login, REST, and the admin paths."""
    from .rest import rest_blueprint  # local: rest imports sobjects, which imports query

    app = Flask(__name__)
    app.extensions[EXTENSION_KEY] = sandbox
    app.register_blueprint(auth_blueprint(sandbox))
    app.register_blueprint(rest_blueprint(sandbox))
    app.register_blueprint(admin_blueprint(sandbox))

    @app.errorhandler(SalesforceError)
    def salesforce_error(exc: SalesforceError) -> Response:
        response = exc.to_response()
        if request.path.startswith("/services/data/"):
            response.headers["Sforce-Limit-Info"] = sandbox.quota.header()
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 405:
            allowed = (
                ",".join(sorted(exc.valid_methods or [])) if hasattr(exc, "valid_methods") else ""
            )
            return SalesforceError(
                405,
                "METHOD_NOT_ALLOWED",
                f"HTTP Method '{request.method}' not allowed. Allowed are {allowed}",
            ).to_response()
        if exc.code == 404:
            return SalesforceError(
                404, "NOT_FOUND", "The requested resource does not exist"
            ).to_response()
        return json_response(
            [{"message": exc.description or "", "errorCode": "UNKNOWN_EXCEPTION"}], exc.code or 500
        )

    @app.get("/services/data/")
    def versions() -> Response:
        return json_response(
            [
                {"label": f"v{v}.0", "url": f"/services/data/v{v}.0", "version": f"{v}.0"}
                for v in range(31, 63)
            ]
        )

    return app


def serve(
    host: str = "127.0.0.1",
    port: int = 8443,
    *,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
) -> None:
    """Run a sandbox in the foreground until interrupted (``threadline sandbox salesforce``).

    Point simple-salesforce at it with :func:`.transport.sandbox_session`.
    """
    from werkzeug.serving import run_simple

    sandbox = SalesforceSandbox(seed=seed, counts=counts)
    run_simple(host, port, sandbox.app, threaded=True)
