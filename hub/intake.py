"""The webhook endpoint: cap the size, verify, store durably, and only then answer 2xx.

``POST /webhooks/<connector>[/<endpoint>]`` (``GET`` for handshakes). The order is the
contract: nothing is stored unless the signature verifies, and nothing is
acknowledged unless it is committed. If the store is down the sender gets 503 and
retries; no input produces a 500.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import Connection
from sqlalchemy.exc import DataError, DBAPIError

from hub import inbox
from hub.group_commit import GroupCommit, file_lock
from hub.inbox import Incoming
from hub.plugin import AckResponse, InboundEndpoint, InboundEvent, IntakeResult
from hub.problems import problem
from hub.runtime import Runtime
from hub.wakeup import CHANNEL
from webhooks import PayloadError, RawRequest, SignatureError
from webhooks.public_url import rebuild_public_url

log = logging.getLogger(__name__)
bp = Blueprint("intake", __name__)
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
#: Where an app keeps its :class:`~hub.group_commit.GroupCommit` (in ``app.extensions``).
COMMITTER = "threadline.intake_commit"


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    """One group committer per app (per process): its request threads share commits."""
    runtime: Runtime = state.app.extensions["threadline"]

    def write(conn: Connection, items: Sequence[Incoming]) -> list[tuple[int, int]]:
        # Other processes' workers wake at commit (PostgreSQL NOTIFY), this one's after.
        return inbox.store_batch(conn, items, notify=CHANNEL)

    def committed(_items: Sequence[Incoming]) -> None:
        runtime.wakeup.set()

    # On PostgreSQL a batch is one statement, so it runs in autocommit mode: a single
    # round trip stores, commits and notifies (see inbox.store_batch). On a SQLite
    # file, the web processes' committers queue on a lock file beside the database.
    url = runtime.engine.url
    serialize = None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        serialize = partial(file_lock, f"{url.database}-intake.lock")
    state.app.extensions[COMMITTER] = GroupCommit(
        runtime.engine,
        write,
        committed,
        autocommit=url.get_backend_name() == "postgresql",
        serialize=serialize,
    )


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["threadline"]
    return runtime


def _raw_request(body: bytes, trust_forwarded: bool) -> RawRequest:
    environ = request.environ
    headers = _headers(environ)
    path = request.full_path if request.query_string else request.path
    url = rebuild_public_url(
        request.scheme, request.host, path, headers, trust_forwarded=trust_forwarded
    )
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
    runtime = _runtime()
    connector = runtime.connectors.get(connector_name)
    if connector is None:
        return problem(404, "unknown_connector", f"no connector named {connector_name!r}")
    endpoint = connector.endpoint(endpoint_name)
    if endpoint is None:
        return problem(
            404, "unknown_endpoint", f"{connector_name!r} has no endpoint {endpoint_name!r}"
        )
    intake = runtime.settings.hub.intake
    body = request.get_data(cache=False)  # at most max_body_bytes + 1 (see create_app)
    if len(body) > intake.max_body_bytes:
        return problem(413, "payload_too_large", "the body is larger than the configured limit")
    raw = _raw_request(body, intake.trust_forwarded_headers)
    context = {"connector": connector_name, "endpoint": endpoint_name or "/"}
    if request.method == "GET" and not endpoint.query:
        return _handshake(endpoint, raw, context)
    if request.method not in endpoint.methods:
        allowed = ", ".join(endpoint.methods)
        return problem(405, "method_not_allowed", f"this endpoint takes {allowed}")
    try:
        endpoint.verify(raw)
        if endpoint.query:
            return _respond(endpoint.answer(raw))
        events = endpoint.parse(raw)
        return _store_and_ack(endpoint, raw, events, context)
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
    endpoint: InboundEndpoint,
    raw: RawRequest,
    events: list[InboundEvent],
    context: dict[str, str],
) -> Response:
    """Commit the events, and only then answer the sender; 503 while the store is down.

    The commit is shared with whatever other requests of this process are storing at
    the same moment (``hub/group_commit.py``); this request is answered only once the
    transaction holding its events has committed.
    """
    started = time.perf_counter()
    committer: GroupCommit[Incoming, tuple[int, int]] = current_app.extensions[COMMITTER]
    try:
        stored, duplicates = committer.submit(
            Incoming(context["connector"], endpoint.name, raw, events)
        )
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
