"""``create_app``: the Flask app in front of one sandbox portal.

Request pipeline, in HubSpot's order as far as it is observable: scripted faults (an
edge failure comes first), authentication (401 before any counting), rate limiting
(429 with the policy body), then the endpoint. One error handler renders every
``HubSpotHTTPError``; nothing else reaches the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from . import associations_api, batch_api, oauth, objects_api
from .errors import HubSpotHTTPError, correlation_id, error_body

if TYPE_CHECKING:
    from .sandbox import HubSpotSandbox


def create_app(sandbox: HubSpotSandbox) -> Flask:
    """Build the app; all state lives on ``sandbox`` (``app.extensions``), none at import."""
    app = Flask("hubspot_sandbox")
    app.extensions["hubspot_sandbox"] = sandbox
    app.json.sort_keys = False  # type: ignore[attr-defined]
    for blueprint in (oauth.bp, objects_api.bp, batch_api.bp, associations_api.bp):
        app.register_blueprint(blueprint)

    @app.before_request
    def gatekeeper() -> Response | None:
        path = request.path
        injected = sandbox.faults.apply(path)
        if injected is not None:
            return injected
        if path.startswith("/oauth/"):
            return None  # the token endpoints authenticate with client credentials
        sandbox.oauth.authenticate(request.headers.get("Authorization"))
        g.rate_headers = sandbox.ratelimiter.check(is_search=path.endswith("/search"))
        sandbox.request_log.append((request.method, request.full_path.rstrip("?")))
        return None

    @app.after_request
    def decorate(response: Response) -> Response:
        for name, value in getattr(g, "rate_headers", {}).items():
            response.headers.setdefault(name, value)
        response.headers.setdefault("X-HubSpot-Correlation-Id", correlation_id())
        if response.mimetype == "application/json":
            response.headers["Content-Type"] = "application/json;charset=utf-8"
        return response

    @app.errorhandler(HubSpotHTTPError)
    def hubspot_error(exc: HubSpotHTTPError) -> tuple[Response, int, dict[str, str]]:
        headers = dict(exc.headers)
        if "correlationId" in exc.body:  # the header and the body name the same request
            headers["X-HubSpot-Correlation-Id"] = str(exc.body["correlationId"])
        return jsonify(exc.body), exc.status, headers

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        category = "OBJECT_NOT_FOUND" if status == 404 else "VALIDATION_ERROR"
        message = "resource not found" if status == 404 else (exc.description or exc.name)
        return jsonify(error_body(message, category)), status

    return app
