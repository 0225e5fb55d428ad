"""``create_app``: TaskRouter v1 Tasks and Workers behind Twilio's Basic auth.

Order per request: scripted faults (edge failures first), HTTP Basic authentication
with ``AccountSid:AuthToken`` (Twilio answers 401 error 20003 otherwise:
https://www.twilio.com/docs/errors/20003), then the endpoint. Writes are
form-encoded (``Attributes``, ``AssignmentStatus``, ``Reason``, ``Priority``,
``TaskChannel``); ``If-Match`` guards Task updates and deletes (412 on mismatch:
https://www.twilio.com/docs/usage/mutation-and-conflict-resolution).
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .errors import TwilioHTTPError, unauthenticated
from .resources import BASE, page_json, task_json, worker_json
from .store import TaskRouterStore, etag

if TYPE_CHECKING:
    from .sandbox import TwilioSandbox

bp = Blueprint("taskrouter", __name__, url_prefix="/v1/Workspaces/<ws>")
admin = Blueprint("sandbox_admin", __name__, url_prefix="/__sandbox__")


def _sandbox() -> TwilioSandbox:
    sandbox: TwilioSandbox = current_app.extensions["twilio_sandbox"]
    return sandbox


def _store(ws: str) -> TaskRouterStore:
    store = _sandbox().store
    if ws != store.workspace_sid:
        raise TwilioHTTPError(404, 20404, f"The requested resource /Workspaces/{ws} was not found")
    return store


def _int(name: str, default: int) -> int:
    """An integer form or query parameter; Twilio answers 400 error 20001 otherwise."""
    raw = request.values.get(name)
    if raw is None or raw == "":
        return default
    if not raw.lstrip("-").isdigit():
        raise TwilioHTTPError(400, 20001, f"{name} must be an integer")
    return int(raw)


def _task_response(store: TaskRouterStore, sid: str, status: int = 200) -> Response:
    task = store.get_task(sid)
    response = jsonify(task_json(store, task))
    response.status_code = status
    response.headers["ETag"] = etag(task)
    return response


@bp.get("/Tasks")
def list_tasks(ws: str) -> Response:
    store = _store(ws)
    wanted = set(request.args.getlist("AssignmentStatus"))
    queue = request.args.get("TaskQueueName")
    size = min(max(_int("PageSize", 50), 1), 1000)
    tasks = [
        task_json(store, t)
        for t in sorted(store.all_tasks(), key=lambda t: t.date_created, reverse=True)
        if (not wanted or t.assignment_status in wanted)
        and (queue is None or t.task_queue_friendly_name == queue)
    ][:size]
    return jsonify(page_json("tasks", tasks, f"{BASE}/Workspaces/{ws}/Tasks", size))


@bp.post("/Tasks")
def create_task(ws: str) -> Response:
    store = _store(ws)
    task = store.create_task(
        request.form.get("Attributes", "{}"),
        channel=request.form.get("TaskChannel", "default"),
        priority=_int("Priority", 0),
        timeout=_int("Timeout", 86_400),
    )
    return _task_response(store, task.sid, 201)


@bp.get("/Tasks/<sid>")
def fetch_task(ws: str, sid: str) -> Response:
    return _task_response(_store(ws), sid)


@bp.post("/Tasks/<sid>")
def update_task(ws: str, sid: str) -> Response:
    store = _store(ws)
    store.update_task(sid, request.headers.get("If-Match"), request.form.to_dict())
    return _task_response(store, sid)


@bp.delete("/Tasks/<sid>")
def delete_task(ws: str, sid: str) -> Response:
    store = _store(ws)
    task = store.get_task(sid)
    if_match = request.headers.get("If-Match")
    if if_match is not None and if_match.strip() != etag(task):
        raise TwilioHTTPError(412, 20412, "Precondition failed: version mismatch")
    store.delete_task(sid)
    return Response(status=204)


@bp.get("/Workers/<sid>")
def fetch_worker(ws: str, sid: str) -> Response:
    store = _store(ws)
    return jsonify(worker_json(store, store.get_worker(sid)))


@bp.get("/Workers")
def list_workers(ws: str) -> Response:
    store = _store(ws)
    name = request.args.get("FriendlyName")
    workers = [
        worker_json(store, w)
        for w in store.all_workers()
        if name is None or w.friendly_name == name
    ]
    return jsonify(page_json("workers", workers, f"{BASE}/Workspaces/{ws}/Workers", 50))


# ----- scripting over HTTP (the demo and other processes) ------------------------------


@admin.post("/tasks")
def admin_create_task() -> Response:
    body: dict[str, Any] = request.get_json(force=True) or {}
    sid = _sandbox().create_task(body.get("attributes") or {}, **(body.get("options") or {}))
    return _task_response(_sandbox().store, sid, 201)


@admin.get("/tasks/<sid>")
def admin_task(sid: str) -> Response:
    return _task_response(_sandbox().store, sid)


@admin.post("/faults")
def admin_faults() -> Response:
    body: dict[str, Any] = request.get_json(force=True) or {}
    _sandbox().faults.fail_next(
        int(body.get("count", 1)),
        int(body.get("status", 500)),
        retry_after=body.get("retry_after"),
        path_contains=str(body.get("path_contains", "")),
    )
    return Response(status=204)


def create_app(sandbox: TwilioSandbox) -> Flask:
    """Build the app; all state lives on ``sandbox`` (``app.extensions``), none at import."""
    app = Flask("twilio_sandbox")
    app.extensions["twilio_sandbox"] = sandbox
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.register_blueprint(bp)
    app.register_blueprint(admin)

    @app.before_request
    def gatekeeper() -> None:
        if request.path.startswith("/__sandbox__/"):
            return
        sandbox.faults.apply(request.method, request.path)
        auth = request.authorization
        expected = (sandbox.account_sid, sandbox.auth_token)
        if auth is None or not (
            hmac.compare_digest(auth.username or "", expected[0])
            and hmac.compare_digest(auth.password or "", expected[1])
        ):
            raise unauthenticated()
        sandbox.request_log.append((request.method, request.path))

    @app.errorhandler(TwilioHTTPError)
    def twilio_error(exc: TwilioHTTPError) -> tuple[Response, int, dict[str, str]]:
        return jsonify(exc.body()), exc.status, exc.headers

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        body = TwilioHTTPError(status, 20000 + status, exc.name).body()
        return jsonify(body), status

    return app
