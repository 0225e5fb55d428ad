"""The webhook endpoint: cap the size, verify, store durably, and only then answer 2xx.

``POST /webhooks/<connector>[/<endpoint>]`` (``GET`` for handshakes). The order is the
contract: nothing is stored unless the signature verifies, and nothing is
acknowledged unless it is committed. If the store is down the sender gets 503 and
retries; no input produces a 500.

:func:`handle` answers every webhook request. The Flask route calls it, and so does
:class:`FastPath`, the plain WSGI route in front of Flask that takes the signed POSTs
(nearly all the traffic) without Flask's per-request machinery.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.wrappers import Request

from hub import inbox_writes
from hub.group_commit import FileLock, GroupCommit
from hub.inbox_writes import Incoming, Prepared
from hub.plugin import AckResponse, Connector, InboundEndpoint, InboundEvent, IntakeResult
from hub.problems import problem
from hub.runtime import Runtime
from hub.settings import IntakeSettings
from hub.wakeup import CHANNEL
from webhooks import PayloadError, RawRequest, SignatureError
from webhooks.public_url import rebuild_public_url

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)
bp = Blueprint("intake", __name__)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
#: Where an app keeps its :class:`~hub.group_commit.GroupCommit` (in ``app.extensions``).
COMMITTER = "threadline.intake_commit"
#: Where an app keeps its :class:`Intake` (in ``app.extensions``).
INTAKE = "threadline.intake"


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """One group committer per app (per process): its request threads share commits."""
    runtime: Runtime = state.app.extensions["threadline"]
    wakeup = runtime.wakeup.event

    def write(conn: Connection, items: Sequence[Prepared]) -> list[tuple[int, int]]:
        # Other processes' workers wake at commit (PostgreSQL NOTIFY), this one's after.
        return inbox_writes.store_batch(conn, items, notify=CHANNEL)

    def committed(_items: Sequence[Prepared]) -> None:
        if not wakeup.is_set():  # a web process has no worker to clear it: set it once
            runtime.wakeup.set()

    # On PostgreSQL a batch is one statement, so it runs in autocommit mode: a single
    # round trip stores, commits and notifies (see inbox_writes.store_batch). On SQLite
    # the batch's transaction is begun (taking the write lock, as the engine's begin
    # hook does) and committed on the driver, as the write itself is; on a SQLite
    # file, the web processes' committers queue on a lock file beside the database.
    url = runtime.engine.url
    backend = url.get_backend_name()
    serialize = None
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        serialize = FileLock(f"{url.database}-intake.lock")
    committer = GroupCommit(
        runtime.engine,
        write,
        committed,
        autocommit=backend == "postgresql",
        driver_begin="BEGIN IMMEDIATE" if backend == "sqlite" else None,
        serialize=serialize,
    )
    state.app.extensions[COMMITTER] = committer
    state.app.extensions[INTAKE] = Intake(
        runtime.connectors, runtime.settings.hub.intake, committer, runtime.engine.dialect
    )


class Intake:
    """What every webhook request of an app needs, looked up once: the connectors, the
    intake settings, the group committer and the store's dialect (for the rows a
    request prepares before it queues), and each endpoint by its URL names."""

    def __init__(
        self,
        connectors: dict[str, Connector],
        settings: IntakeSettings,
        committer: GroupCommit[Prepared, tuple[int, int]],
        dialect: Dialect,
    ) -> None:
        self.connectors = connectors
        self.settings = settings
        self.committer = committer
        self.dialect = dialect
        self._endpoints: dict[tuple[str, str], InboundEndpoint] = {}

    def endpoint(
        self, connector: Connector, connector_name: str, name: str
    ) -> InboundEndpoint | None:
        """``connector``'s endpoint ``name``; a connector's endpoints are declared from its
        settings, which never change while the process runs."""
        key = (connector_name, name)
        found = self._endpoints.get(key)
        if found is None:
            found = connector.endpoint(name)
            if found is not None:
                self._endpoints[key] = found
        return found


def _raw_request(req: Request, body: bytes, trust_forwarded: bool) -> RawRequest:
    environ = req.environ
    headers = _headers(environ)
    path = req.full_path if req.query_string else req.path
    url = rebuild_public_url(req.scheme, req.host, path, headers, trust_forwarded=trust_forwarded)
    # Names are lower-cased and the method is werkzeug's upper-case one already, so
    # the frozen value is built directly rather than through RawRequest.build.
    return RawRequest(method=environ["REQUEST_METHOD"], url=url, headers=headers, body=body)


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request's headers, names lower-cased, straight from the WSGI environ (what
    ``request.headers`` yields, without its title-casing and proxying per header)."""
    headers = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                headers[key[5:].replace("_", "-").lower()] = value
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers[key.replace("_", "-").lower()] = value
    return headers


@bp.route("/webhooks/<connector_name>", defaults={"endpoint_name": ""}, methods=METHODS)
@bp.route("/webhooks/<connector_name>/<endpoint_name>", methods=METHODS)
@bp.route("/webhooks/<connector_name>/<endpoint_name>/<path:_rest>", methods=METHODS)
def receive(connector_name: str, endpoint_name: str, _rest: str = "") -> Response:
    intake: Intake = current_app.extensions[INTAKE]
    return handle(intake, request._get_current_object(), connector_name, endpoint_name)  # type: ignore[attr-defined]


def handle(intake: Intake, req: Request, connector_name: str, endpoint_name: str) -> Response:
    """Answer one webhook request: the Flask route and :class:`FastPath` both call this."""
    with intake.committer.in_flight():
        return _handle(intake, req, connector_name, endpoint_name)


def _handle(intake: Intake, req: Request, connector_name: str, endpoint_name: str) -> Response:
    connector = intake.connectors.get(connector_name)
    if connector is None:
        return problem(404, "unknown_connector", f"no connector named {connector_name!r}")
    endpoint = intake.endpoint(connector, connector_name, endpoint_name)
    if endpoint is None:
        return problem(
            404, "unknown_endpoint", f"{connector_name!r} has no endpoint {endpoint_name!r}"
        )
    settings = intake.settings
    body = req.get_data(cache=False)  # at most max_body_bytes + 1 (see create_app)
    if len(body) > settings.max_body_bytes:
        return problem(413, "payload_too_large", "the body is larger than the configured limit")
    raw = _raw_request(req, body, settings.trust_forwarded_headers)
    context = {"connector": connector_name, "endpoint": endpoint_name or "/"}
    method = req.method
    if method == "GET" and not endpoint.query:
        return _handshake(endpoint, raw, context)
    if method not in endpoint.methods:
        allowed = ", ".join(endpoint.methods)
        return problem(405, "method_not_allowed", f"this endpoint takes {allowed}")
    try:
        endpoint.verify(raw)
        if endpoint.query:
            return _respond(endpoint.answer(raw))
        events = endpoint.parse(raw)
        return _store_and_ack(intake, endpoint, raw, events, context)
    except SignatureError as exc:
        log.warning("intake.signature_rejected", extra={**context, "reason": exc.message})
        return problem(401, exc.code, exc.message)
    except PayloadError as exc:
        log.warning("intake.payload_rejected", extra={**context, "reason": exc.message})
        return problem(400, exc.code, exc.message)
    except Exception as exc:
        answer = endpoint.fallback(raw)
        if answer is None:
            raise  # the app's error handler answers a JSON 500/503, never a trace
        log.error(
            "intake.fallback_answered",
            exc_info=exc,
            extra={**context, "error_class": type(exc).__name__},
        )
        return _respond(answer)


class FastPath:
    """A plain WSGI route in front of the Flask app for the request intake is for.

    A signed POST with a ``Content-Length`` within the limit, to a declared endpoint
    that stores, is answered by :func:`handle` (the very function the Flask route calls)
    without Flask's request and app contexts, URL map and hooks, which cost more CPU
    than the whole verify-and-parse. The app's own pieces stand in for the hooks: the
    request id, the response header and log line (``finish``) and the error handlers
    (``on_error``), so the answer is the one the Flask route gives, byte for byte.
    Anything else (handshakes, other methods, chunked bodies, unknown names, a path
    below an endpoint, a body over the limit) goes to Flask, unread.
    """

    ENDPOINT = "intake.receive"  # what the Flask route's log lines name

    def __init__(
        self,
        app: Flask,
        *,
        request_id: Callable[[WSGIEnvironment], str],
        finish: Callable[[Response, str, Request, str | None, float | None], Response],
        on_error: Callable[[Exception], Response],
    ) -> None:
        self._flask = app.wsgi_app
        self._intake: Intake = app.extensions[INTAKE]
        self._request_class = app.request_class
        self._limit = app.config["MAX_CONTENT_LENGTH"]
        self._request_id, self._finish, self._on_error = request_id, finish, on_error
        # Flask checks the Host header against these when they are set: leave it to Flask.
        self._off = bool(app.config.get("SERVER_NAME") or app.config.get("TRUSTED_HOSTS"))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        names = self._target(environ)
        if names is None:
            return self._flask(environ, start_response)
        request_id, started = self._request_id(environ), time.monotonic()
        req = self._request_class(environ)
        req.max_content_length = self._limit  # Flask's request reads it from the app
        try:
            response = handle(self._intake, req, *names)
        except Exception as exc:  # noqa: BLE001 - answered by the app's error handlers
            response = self._on_error(exc)
        response = self._finish(response, request_id, req, self.ENDPOINT, started)
        return response(environ, start_response)

    def _target(self, environ: WSGIEnvironment) -> tuple[str, str] | None:
        """(connector, endpoint) when this request is one to answer here."""
        path: str = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "POST" or not path.startswith("/webhooks/"):
            return None
        if self._off:
            return None
        length: str = environ.get("CONTENT_LENGTH", "")
        if "HTTP_TRANSFER_ENCODING" in environ or not (length.isascii() and length.isdigit()):
            return None
        if int(length) > self._intake.settings.max_body_bytes or not path.isascii():
            return None
        names = path[len("/webhooks/") :].split("/")
        if len(names) > 2 or not all(names):
            return None
        connector_name, endpoint_name = names[0], names[1] if len(names) == 2 else ""
        connector = self._intake.connectors.get(connector_name)
        if connector is None:
            return None
        endpoint = self._intake.endpoint(connector, connector_name, endpoint_name)
        if endpoint is None or endpoint.query or "POST" not in endpoint.methods:
            return None
        return connector_name, endpoint_name


def _respond(answer: AckResponse) -> Response:
    return Response(answer.body, status=answer.status, mimetype=answer.content_type)


def _handshake(endpoint: InboundEndpoint, raw: RawRequest, context: dict[str, str]) -> Response:
    try:
        answer = endpoint.handshake(raw)
    except SignatureError as exc:
        log.warning("intake.handshake_rejected", extra={**context, "reason": exc.message})
        return problem(401, exc.code, exc.message)
    if answer is None:
        return problem(405, "method_not_allowed", "this endpoint takes POST")
    return _respond(answer)


def _store_and_ack(
    intake: Intake,
    endpoint: InboundEndpoint,
    raw: RawRequest,
    events: list[InboundEvent],
    context: dict[str, str],
) -> Response:
    """Commit the events, and only then answer the sender; 503 while the store is down.

    The commit is shared with whatever other requests of this process are storing at
    the same moment (``hub/group_commit.py``); this request is answered only once the
    transaction holding its events has committed. Its rows are made here, before it
    queues, so the committer only sends them (``hub/inbox_writes.py``).
    """
    started = time.perf_counter()
    incoming = Incoming(context["connector"], endpoint.name, raw, events)
    try:
        stored, duplicates = intake.committer.submit(inbox_writes.prepare(intake.dialect, incoming))
    except DataError as exc:  # the store refuses this content (a NUL in PostgreSQL text)
        log.warning(
            "intake.payload_refused_by_store",
            extra={**context, "error_class": type(exc.orig).__name__},
        )
        return problem(
            400, "invalid_payload", "the body holds characters the store cannot keep (a NUL byte)"
        )
    except DBAPIError as exc:
        log.error("intake.store_unavailable", extra={**context, "error_class": type(exc).__name__})
        fallback = endpoint.fallback(raw)
        if fallback is not None:
            return _respond(fallback)
        response = problem(503, "store_unavailable", "the event store is unavailable; retry")
        response.headers["Retry-After"] = "5"
        return response
    if log.isEnabledFor(logging.INFO):
        log.info(
            "intake.stored",
            extra={
                **context,
                "stored": stored,
                "duplicates": duplicates,
                "store_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
    return _respond(endpoint.ack(raw, IntakeResult(stored=stored, duplicates=duplicates)))
