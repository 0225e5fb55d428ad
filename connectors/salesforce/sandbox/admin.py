"""``/__sandbox__/``: the same scripting as the Python API, over HTTP.

For demos and out-of-process tests (the sandbox running under ``threadline sandbox
salesforce``). These paths do not exist on Salesforce, and no client would call
them by accident: the prefix is not under ``/services/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from .errors import SalesforceError, json_response

if TYPE_CHECKING:
    from .app import SalesforceSandbox


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise SalesforceError(400, "JSON_PARSER_ERROR", "expected a JSON object")
    return body


def _int(body: dict[str, Any], key: str, default: int | None = None) -> int | None:
    value = body.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise SalesforceError(400, "INVALID_PARAMETER_VALUE", f"{key} must be an integer")
    return value


def admin_blueprint(sandbox: SalesforceSandbox) -> Blueprint:
    """Routes for scripting the sandbox over HTTP."""
    bp = Blueprint("salesforce_admin", __name__, url_prefix="/__sandbox__")

    @bp.post("/expire-sessions")
    def expire_sessions() -> Response:
        sandbox.expire_sessions()
        return Response(status=204)

    @bp.post("/faults")
    def faults() -> Response:
        body = _body()
        sandbox.inject_errors(
            _int(body, "count", 1) or 1,
            status=_int(body, "status", 503) or 503,
            error_code=body.get("errorCode"),
            message=body.get("message"),
            path_contains=str(body.get("pathContains", "")),
        )
        return Response(status=204)

    @bp.post("/delay")
    def delay() -> Response:
        body = _body()
        seconds = body.get("seconds", 0)
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise SalesforceError(400, "INVALID_PARAMETER_VALUE", "seconds must be >= 0")
        sandbox.set_delay(float(seconds), _int(body, "times"))
        return Response(status=204)

    @bp.post("/api-limit")
    def api_limit() -> Response:
        body = _body()
        sandbox.set_api_limit(_int(body, "limit", sandbox.quota.limit) or 0, _int(body, "used"))
        return Response(status=204)

    @bp.post("/reset")
    def reset() -> Response:
        sandbox.faults.clear()
        return Response(status=204)

    @bp.get("/state")
    def state() -> Response:
        return json_response(
            {
                "logins": sandbox.sessions.logins,
                "apiUsage": sandbox.quota.used,
                "apiLimit": sandbox.quota.limit,
                "pendingFaults": sandbox.faults.pending_errors,
                "openCursors": len(sandbox.cursors),
                "publishedEvents": len(sandbox.published_events),
                "records": {name: len(rows) for name, rows in sandbox.store.records.items()},
            }
        )

    @bp.patch("/records/<type_name>/<record_id>")
    def update_record(type_name: str, record_id: str) -> Response:
        sandbox.update_record(type_name, record_id, _body())
        return Response(status=204)

    return bp
