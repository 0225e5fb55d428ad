"""``GET /api/v1/context``: everything an agent, an IVR or an ACD needs in one answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, request
from flask.json.provider import JSONProvider
from werkzeug.wrappers import Request

from hub.api.auth import principal_from_bearer, refuse_unless, require_token
from hub.api.read import LookupError_, parse_lookup
from hub.context_reads import lookup_reader
from hub.customer_context import context_for_lookup
from hub.problems import problem
from hub.runtime import Runtime

bp = Blueprint("context_api", __name__, url_prefix="/api/v1")
bp.before_request(require_token)

#: What a lookup needs of its caller (hub/api/auth.py): any valid token.
ROLE = "viewer"


@bp.get("/context")
def get_context() -> Response:
    """By ``phone`` (any format), ``email``, or ``connector``+``object_type``+``id``."""
    runtime: Runtime = current_app.extensions["threadline"]
    return lookup_answer(runtime, request.args, current_app.json)


def lookup_answer(runtime: Runtime, args: Mapping[str, str], json: JSONProvider) -> Response:
    """The answer to a lookup whose caller may ask it: the context, or the problem."""
    try:
        kind, value = parse_lookup(args, runtime.settings.hub.default_region)
    except LookupError_ as exc:
        return problem(400, "invalid_query", str(exc))
    with lookup_reader(runtime.engine) as reader:
        body = context_for_lookup(
            reader,
            kind,
            value,
            connectors=runtime.connectors,
            vip_tiers=runtime.settings.hub.vip_tiers,
        )
    if body is None:
        return problem(
            404,
            "unknown_contact",
            f"no contact has that {kind.split(':')[0]}; nothing to pop",
            lookup={"kind": kind.split(":")[0]},
        )
    return cast(Response, json.response(body))  # the app's response_class


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ContextFastPath:
    """A plain WSGI route in front of Flask for ``GET /api/v1/context``, as
    :class:`hub.intake.FastPath` is for webhooks: a ringing call waits on this answer
    (p99 goal 5 ms), and Flask's request and app contexts, URL map, session and hooks
    cost more CPU than the lookup's own Python. It answers with the functions the Flask
    route uses (the role check, :func:`lookup_answer`, the app's request id, log line
    and error handlers), so the answer is the same byte for byte
    (tests/integration/test_context_fast_path.py). Anything else goes to ``next_app``.
    """

    PATH = "/api/v1/context"
    ENDPOINT = "context_api.get_context"  # what the Flask route's log lines name

    def __init__(
        self,
        app: Flask,
        next_app: WSGIApp,
        *,
        request_id: Callable[[dict[str, Any]], str],
        finish: Callable[[Response, str, Request, str | None, float | None], Response],
        on_error: Callable[[Exception], Response],
    ) -> None:
        self._next = next_app
        self._runtime: Runtime = app.extensions["threadline"]
        self._json = app.json
        self._request_class = app.request_class
        self._request_id, self._finish, self._on_error = request_id, finish, on_error
        # Flask checks the Host header against these when they are set: leave it to Flask.
        self._off = bool(app.config.get("SERVER_NAME") or app.config.get("TRUSTED_HOSTS"))

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != self.PATH
            or environ.get("REQUEST_METHOD") != "GET"
            or self._off
        ):
            return self._next(environ, start_response)
        request_id, started = self._request_id(environ), time.monotonic()
        req = self._request_class(environ)
        try:
            principal = principal_from_bearer(self._runtime, req.headers.get("Authorization", ""))
            response = refuse_unless(principal, ROLE) or lookup_answer(
                self._runtime, req.args, self._json
            )
        except Exception as exc:  # noqa: BLE001 - answered by the app's error handlers
            response = self._on_error(exc)
        response = self._finish(response, request_id, req, self.ENDPOINT, started)
        return response(environ, start_response)
