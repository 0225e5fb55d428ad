"""The admin API, ``/api/v1/admin/...``: health, history, replays, merges, tokens.

Roles: viewer reads everything here; operator also replays, runs, pauses and
unmerges; admin also manages tokens. Every action is written to the audit log with
the calling token. Shapes are in the OpenAPI spec (``/api/v1/openapi.json``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.orm import Session

from hub import scheduler, tokens
from hub.admin import health, ops
from hub.api.auth import current_principal, refuse_unless, require
from hub.problems import problem
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import ApiToken

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")
bp.before_request(require("viewer"))
F = TypeVar("F", bound=Callable[..., Any])


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["threadline"]
    return runtime


def needs(role: str) -> Callable[[F], F]:
    """Refuse the call unless the caller's token has ``role`` (viewer is checked for
    every route of the blueprint already)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            refused = refuse_unless(current_principal(), role)
            return refused if refused is not None else view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _listing(build: Callable[[Session, Any], dict[str, Any]]) -> Response:
    with _runtime().read_sessions() as session:
        try:
            return jsonify(build(session, request.args))
        except ops.BadQuery as exc:
            return problem(400, "invalid_query", str(exc))


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _ids(body: dict[str, Any]) -> list[int] | None:
    """``ids`` from a body: a list of whole numbers, or absent (None)."""
    ids = body.get("ids")
    if ids is None:
        return None
    if not isinstance(ids, list) or not ids or not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**63 for i in ids
    ):
        raise ops.BadQuery("ids must be a non-empty list of event ids")
    return ids


# ----- connectors -----------------------------------------------------------------


@bp.get("/connectors")
def list_connectors() -> Response:
    runtime = _runtime()
    with runtime.read_sessions() as session:
        return jsonify(
            {"results": [health.connector_health(session, c) for c in runtime.connectors.values()]}
        )


@bp.get("/connectors/<name>")
def get_connector(name: str) -> Response:
    runtime = _runtime()
    connector = runtime.connectors.get(name)
    if connector is None:
        return problem(404, "not_found", f"no connector named {name!r}")
    with runtime.read_sessions() as session:
        return jsonify(health.connector_health(session, connector))


def _job_action(name: str, action: str) -> Response:
    runtime, actor = _runtime(), current_principal().actor
    stream = _body().get("stream")
    if stream is not None and not isinstance(stream, str):
        return problem(400, "invalid_request", "stream must be a stream name")
    try:
        if action == "run":
            jobs = scheduler.request_run(runtime, name, actor=actor, stream=stream)
        else:
            jobs = scheduler.set_paused(
                runtime, name, action == "pause", actor=actor, stream=stream
            )
    except scheduler.NoSuchJob as exc:
        return problem(404, "not_found", str(exc))
    body: dict[str, Any] = {"connector": name, "action": action, "jobs": jobs}
    if action == "run":
        poll = runtime.settings.hub.scheduler.poll_seconds
        body["note"] = f"a scheduler process starts the run within {poll:g} s"
        return Response(_json(body), status=202, mimetype="application/json")
    return jsonify(body)


def _json(body: Any) -> str:
    return str(current_app.json.dumps(body))


@bp.post("/connectors/<name>/run")
@needs("operator")
def run_connector(name: str) -> Response:
    return _job_action(name, "run")


@bp.post("/connectors/<name>/pause")
@needs("operator")
def pause_connector(name: str) -> Response:
    return _job_action(name, "pause")


@bp.post("/connectors/<name>/resume")
@needs("operator")
def resume_connector(name: str) -> Response:
    return _job_action(name, "resume")


# ----- history and queues -----------------------------------------------------------


@bp.get("/overview")
def get_overview() -> Response:
    runtime = _runtime()
    with runtime.read_sessions() as session:
        return jsonify(health.overview(session, runtime.connectors))


@bp.get("/sync-runs")
def list_sync_runs() -> Response:
    return _listing(ops.list_sync_runs)


@bp.get("/inbox")
def list_inbox() -> Response:
    return _listing(ops.list_inbox)


@bp.post("/inbox/replay")
@needs("operator")
def replay_inbox() -> Response:
    body = _body()
    try:
        ids = _ids(body)
        status = ops._choice(body.get("status"), ops.INBOX_STATUSES, "status")
    except ops.BadQuery as exc:
        return problem(400, "invalid_request", str(exc))
    if ids is None and status is None:
        return problem(400, "invalid_request", 'give "ids", or "status" (e.g. "dead")')
    if status == "pending":
        return problem(400, "invalid_request", "pending events are already queued")
    with transaction(_runtime().sessions) as session:
        count = ops.replay_inbox(session, actor=current_principal().actor, ids=ids, status=status)
    _runtime().wakeup.set()
    return jsonify({"replayed": count})


@bp.get("/deliveries")
def list_deliveries() -> Response:
    return _listing(ops.list_deliveries)


@bp.post("/deliveries/replay")
@needs("operator")
def replay_deliveries() -> Response:
    body = _body()
    try:
        ids = _ids(body)
    except ops.BadQuery as exc:
        return problem(400, "invalid_request", str(exc))
    if ids is None and body.get("status") != "dead":
        return problem(400, "invalid_request", 'give "ids", or "status": "dead"')
    with transaction(_runtime().sessions) as session:
        count = ops.replay_deliveries(session, actor=current_principal().actor, ids=ids)
    return jsonify({"replayed": count})


# ----- identity -------------------------------------------------------------------------


@bp.get("/merges")
def list_merges() -> Response:
    return _listing(lambda session, args: ops.list_audit(session, args, action="contact.merge"))


@bp.post("/merges/<int:audit_id>/unmerge")
@needs("operator")
def unmerge(audit_id: int) -> Response:
    if not ops.unmerge_available():
        return problem(
            501,
            "not_implemented",
            "unmerge is not available in this build: the identity engine does not "
            "offer hub.identity.unmerge yet",
        )
    with transaction(_runtime().sessions) as session:
        try:
            result = ops.unmerge(session, audit_id, actor=current_principal().actor)
        except LookupError as exc:
            return problem(404, "not_found", str(exc))
        except ValueError as exc:
            return problem(409, "conflict", str(exc))
    return jsonify({"unmerged": audit_id, "result": result if _is_json(result) else None})


def _is_json(value: Any) -> bool:
    return value is None or isinstance(value, dict | list | str | int | float | bool)


@bp.get("/candidates")
def list_candidates() -> Response:
    return _listing(ops.candidate_matches)


@bp.get("/audit")
def list_audit() -> Response:
    return _listing(ops.list_audit)


# ----- tokens -----------------------------------------------------------------------------


def token_json(row: ApiToken) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "prefix": row.prefix,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None,
    }


@bp.get("/tokens")
@needs("admin")
def list_tokens() -> Response:
    with _runtime().read_sessions() as session:
        return jsonify({"results": [token_json(t) for t in tokens.list_tokens(session)]})


@bp.post("/tokens")
@needs("admin")
def create_token() -> Response:
    body = _body()
    role, name = body.get("role"), body.get("name", "")
    if role not in tokens.ROLES or not isinstance(name, str):
        return problem(400, "invalid_request", f"role must be one of {', '.join(tokens.ROLES)}")
    with transaction(_runtime().sessions) as session:
        row, token = tokens.create_token(
            session, role=role, name=name, actor=current_principal().actor
        )
        answer = {**token_json(row), "token": token}
    return Response(_json(answer), status=201, mimetype="application/json")


@bp.delete("/tokens/<int:token_id>")
@needs("admin")
def revoke_token(token_id: int) -> Response:
    with transaction(_runtime().sessions) as session:
        row = tokens.revoke_token(session, token_id, actor=current_principal().actor)
        if row is None:
            return problem(404, "not_found", f"no token {token_id}")
        answer = token_json(row)
    return jsonify(answer)
