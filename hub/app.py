"""The Flask app factory. The engine and connectors are built here, never at import."""

from __future__ import annotations

import logging
import os
import re
import time
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import text
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter
from werkzeug.wrappers import Request

from hub.problems import problem
from hub.runtime import Runtime
from hub.settings import Settings, load_settings

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web app from ``runtime`` (or from settings, or the config file)."""
    if runtime is None:
        runtime = Runtime.build(settings or load_settings())
    app = Flask("threadline")
    # Ids in URLs are the store's BIGINTs: a larger number is a 404, not an overflow.
    app.url_map.converters["int"] = _StoreId
    # One byte over the limit: werkzeug truncates a chunked body at MAX_CONTENT_LENGTH
    # instead of refusing it, so intake reads limit + 1 bytes and refuses what overflows.
    app.config["MAX_CONTENT_LENGTH"] = runtime.settings.hub.intake.max_body_bytes + 1
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["threadline"] = runtime

    from hub.admin.views import bp as dashboard_bp
    from hub.admin.views import configure_sessions
    from hub.api.admin import bp as admin_api_bp
    from hub.api.context import ContextFastPath
    from hub.api.context import bp as context_bp
    from hub.api.openapi import bp as openapi_bp
    from hub.api.read import bp as read_bp
    from hub.intake import FastPath
    from hub.intake import bp as intake_bp
    from hub.metrics import bp as metrics_bp
    from hub.metrics import build_registry
    from hub.panel.views import bp as panel_bp

    app.extensions["threadline.metrics"] = build_registry(runtime)
    configure_sessions(app, runtime.settings.admin)
    app.register_blueprint(intake_bp)
    app.register_blueprint(read_bp)
    app.register_blueprint(context_bp)
    app.register_blueprint(admin_api_bp)
    app.register_blueprint(openapi_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(panel_bp)
    app.register_blueprint(dashboard_bp)
    _register_request_ids(app)
    _register_health(app, runtime)
    _register_errors(app)
    # Signed webhooks and context lookups skip Flask's per-request machinery (see
    # hub/intake.py FastPath and hub/api/context.py ContextFastPath).
    app.wsgi_app = ContextFastPath(  # type: ignore[method-assign]
        app, app.wsgi_app, request_id=request_id, finish=finish_response, on_error=error_response
    )
    app.wsgi_app = FastPath(  # type: ignore[method-assign]
        app, request_id=request_id, finish=finish_response, on_error=error_response
    )
    return app


_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _register_request_ids(app: Flask) -> None:
    """Every request gets an id (the caller's ``X-Request-Id`` when it is a sane one),
    echoed in the response and carried by the request's log line."""

    @app.before_request
    def start() -> None:
        g.request_id = request_id(request.environ)
        g.request_started = time.monotonic()

    @app.after_request
    def finish(response: Response) -> Response:
        started = g.get("request_started")
        rid = g.get("request_id") or new_request_id()
        return finish_response(response, rid, request, request.endpoint, started)


def request_id(environ: dict[str, Any]) -> str:
    """The caller's ``X-Request-Id`` when it is a sane one, else a new one."""
    given = environ.get("HTTP_X_REQUEST_ID")
    return given if given and _REQUEST_ID.match(given) else new_request_id()


def new_request_id() -> str:
    """32 random hex digits (what ``uuid4().hex`` gave, without building a UUID)."""
    return os.urandom(16).hex()


def finish_response(
    response: Response, rid: str, req: Request, endpoint: str | None, started: float | None
) -> Response:
    """Echo the request id ``rid`` and log the request's line (every response gets both)."""
    response.headers["X-Request-Id"] = rid
    if not log.isEnabledFor(logging.INFO):
        return response
    log.info(
        "http.request",
        extra={
            "request_id": rid,
            "method": req.method,
            "path": req.path,
            "endpoint": endpoint,
            "status": response.status_code,
            "duration_ms": round((time.monotonic() - started) * 1000, 1) if started else None,
        },
    )
    return response


class _StoreId(IntegerConverter):
    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(url_map, *args, **kwargs)


def _register_health(app: Flask, runtime: Runtime) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return Response('{"status":"ok"}', mimetype="application/json")

    @app.get("/readyz")
    def readyz() -> Response:
        try:
            with runtime.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError:
            return problem(503, "store_unavailable", "the store cannot be reached")
        return Response('{"status":"ready"}', mimetype="application/json")


def _register_errors(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DataError, _refused_value)
    app.register_error_handler(DBAPIError, _store_error)
    app.register_error_handler(Exception, _unexpected)


def error_response(exc: Exception) -> Response:
    """The answer of the handler :func:`_register_errors` gives ``exc``'s class (the
    most specific one, as Flask picks it), for code that runs outside Flask."""
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if isinstance(exc, DataError):
        return _refused_value(exc)
    if isinstance(exc, DBAPIError):
        return _store_error(exc)
    return _unexpected(exc)


def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    if exc.code == 413:
        return problem(413, "payload_too_large", "the body is larger than the configured limit")
    return problem(exc.code or 400, code, exc.description or code)


def _refused_value(exc: DataError) -> Response:
    # The store refused a value from the request (a NUL byte, a number out of
    # range): the request is wrong, and retrying it would never help.
    log.warning("http.value_refused_by_store", extra={"error_class": type(exc.orig).__name__})
    return problem(400, "invalid_request", "the request holds a value the store refuses")


def _store_error(exc: DBAPIError) -> Response:
    log.error("http.store_unavailable", extra={"error_class": type(exc.orig).__name__})
    response = problem(503, "store_unavailable", "the store is unavailable; retry")
    response.headers["Retry-After"] = "5"
    return response


def _unexpected(exc: Exception) -> Response:
    log.error("http.unexpected_error", exc_info=exc, extra={"error_class": type(exc).__name__})
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged")
