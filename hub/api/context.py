"""``GET /api/v1/context``: everything an agent, an IVR or an ACD needs in one answer."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from hub.api.auth import require_token
from hub.api.read import LookupError_, parse_lookup
from hub.context_reads import lookup_reader
from hub.customer_context import context_for_lookup
from hub.problems import problem
from hub.runtime import Runtime

bp = Blueprint("context_api", __name__, url_prefix="/api/v1")
bp.before_request(require_token)


@bp.get("/context")
def get_context() -> Response:
    """By ``phone`` (any format), ``email``, or ``connector``+``object_type``+``id``."""
    runtime: Runtime = current_app.extensions["threadline"]
    try:
        kind, value = parse_lookup(request.args, runtime.settings.hub.default_region)
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
    return jsonify(body)
