"""The REST API under ``/services/data/vNN.N/``: routing, session check, quota, faults.

Every route is declared with a trailing slash and ``strict_slashes=False`` because
simple-salesforce sends both forms (``query/``, ``sobjects/Contact/``, but
``sobjects/Contact/{id}``). Any ``vNN.N`` version is accepted.

Order of checks for each call, as a client experiences them: scripted delay and
hooks, then an injected fault, then the session (401 INVALID_SESSION_ID), then
the daily quota (403 REQUEST_LIMIT_EXCEEDED), then the resource itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request

from . import describe, sobjects
from .errors import invalid_session, json_response, not_found
from .query import batch_size, query_more, run_query

if TYPE_CHECKING:
    from .app import SalesforceSandbox

VERSION_RE = re.compile(r"^v\d{2}\.\d$")
PREFIX = "/services/data/<version>"


def _route(
    bp: Blueprint,
    path: str,
    endpoint: str,
    view: Callable[..., Response],
    methods: list[str] | None = None,
) -> None:
    """Register ``path`` with and without a trailing slash.

    Werkzeug's ``strict_slashes=False`` only lets the slash-less form match for the
    rule's own methods, so a PUT would be a 404 instead of Salesforce's 405.
    """
    bare = path.rstrip("/")
    bp.add_url_rule(bare, endpoint, view, methods=methods)
    bp.add_url_rule(bare + "/", endpoint, view, methods=methods)


def _register_query_routes(bp: Blueprint, sandbox: SalesforceSandbox) -> None:
    def run(version: str, include_deleted: bool) -> Response:
        return json_response(
            run_query(
                sandbox.store,
                sandbox.cursors,
                request.args.get("q"),
                version=version,
                include_deleted=include_deleted,
                batch=batch_size(request.headers.get("Sforce-Query-Options")),
            )
        )

    def more(version: str, locator: str) -> Response:
        return json_response(
            query_more(
                sandbox.store,
                sandbox.cursors,
                locator,
                version=version,
                batch=batch_size(request.headers.get("Sforce-Query-Options")),
            )
        )

    _route(bp, f"{PREFIX}/query", "query", lambda version: run(version, False))
    _route(bp, f"{PREFIX}/queryAll", "query_all", lambda version: run(version, True))
    _route(bp, f"{PREFIX}/query/<locator>", "query_more", more)
    _route(bp, f"{PREFIX}/queryAll/<locator>", "query_all_more", more)


def _register_sobject_routes(bp: Blueprint, sandbox: SalesforceSandbox) -> None:
    s = sandbox
    base = f"{PREFIX}/sobjects"

    def global_describe(version: str) -> Response:
        return json_response(describe.global_describe(list(s.store.types.values()), version))

    def basic_info(version: str, name: str) -> Response:
        if request.method == "POST":
            return sobjects.create(s, version, name)
        sobject = sobjects.sobject_or_404(s, name)
        return json_response(
            {"objectDescribe": describe.summary(sobject, version), "recentItems": []}
        )

    def describe_one(version: str, name: str) -> Response:
        sobject = sobjects.sobject_or_404(s, name)
        children = describe.child_relationships(sobject, list(s.store.types.values()))
        return json_response(describe.describe(sobject, version, children))

    def record(version: str, name: str, record_id: str) -> Response:
        if request.method == "PATCH":
            return sobjects.update(s, name, record_id)
        if request.method == "DELETE":
            return sobjects.delete(s, name, record_id)
        return sobjects.retrieve(s, version, name, record_id)

    def external(version: str, name: str, field: str, value: str) -> Response:
        if request.method == "PATCH":
            return sobjects.upsert(s, version, name, field, value)
        return sobjects.get_by_external_id(s, version, name, field, value)

    rules: list[tuple[str, str, Callable[..., Response], list[str]]] = [
        ("", "global_describe", global_describe, ["GET"]),
        ("/<name>/", "basic_info", basic_info, ["GET", "POST"]),
        ("/<name>/describe/", "describe", describe_one, ["GET"]),
        ("/<name>/updated/", "updated", lambda version, name: sobjects.updated(s, name), ["GET"]),
        ("/<name>/deleted/", "deleted", lambda version, name: sobjects.deleted(s, name), ["GET"]),
        ("/<name>/<record_id>/", "record", record, ["GET", "PATCH", "DELETE"]),
        ("/<name>/<field>/<path:value>", "external", external, ["GET", "PATCH"]),
    ]
    for path, endpoint, view, methods in rules:
        _route(bp, base + path, endpoint, view, methods)


def _limits(sandbox: SalesforceSandbox) -> Response:
    quota = sandbox.quota
    return json_response(
        {
            "DailyApiRequests": {"Max": quota.limit, "Remaining": max(0, quota.limit - quota.used)},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
            "HourlyPublishedPlatformEvents": {
                "Max": 250000,
                "Remaining": 250000 - len(sandbox.published_events),
            },
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        }
    )


def rest_blueprint(sandbox: SalesforceSandbox) -> Blueprint:
    """Build the REST blueprint bound to one sandbox."""
    bp = Blueprint("salesforce_rest", __name__)

    @bp.before_request
    def guard() -> None:
        version = (request.view_args or {}).get("version", "")
        if not VERSION_RE.match(version):
            raise not_found()
        sandbox.faults.before_request(request.path)
        injected = sandbox.faults.take_error(request.path)
        if injected is not None:
            raise injected
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme not in ("Bearer", "OAuth") or not sandbox.sessions.is_valid(token.strip()):
            raise invalid_session()
        sandbox.quota.consume()

    @bp.after_request
    def limit_info(response: Response) -> Response:
        response.headers["Sforce-Limit-Info"] = sandbox.quota.header()
        return response

    def resources(version: str) -> Response:
        names = ("sobjects", "query", "queryAll", "limits", "search", "composite")
        return json_response({n: f"/services/data/{version}/{n}" for n in names})

    _route(bp, PREFIX, "resources", resources)
    _route(bp, f"{PREFIX}/limits", "limits", lambda version: _limits(sandbox))
    _register_query_routes(bp, sandbox)
    _register_sobject_routes(bp, sandbox)
    return bp
