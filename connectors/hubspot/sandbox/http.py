"""Request helpers shared by the blueprints: the sandbox handle, JSON bodies, object types."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import current_app, request

from .errors import validation_error
from .schema import ObjectType, resolve_type

if TYPE_CHECKING:
    from .sandbox import HubSpotSandbox


def sandbox() -> HubSpotSandbox:
    """The sandbox that owns the current app (kept in ``app.extensions``, Flask-style)."""
    owner: HubSpotSandbox = current_app.extensions["hubspot_sandbox"]
    return owner


def object_type(name: str) -> ObjectType:
    """Resolve a path segment; HubSpot answers unknown types with this 400."""
    obj = resolve_type(name)
    if obj is None:
        raise validation_error(f"Unable to infer object type from: {name}")
    return obj


def json_body() -> Any:
    """Parse the raw body as JSON; malformed JSON is HubSpot's ``Invalid input JSON`` 400."""
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise validation_error(f"Invalid input JSON on line 1: {type(exc).__name__}") from None


def require_dict(body: Any, *required: str, where: str = "body") -> dict[str, Any]:
    """A JSON object carrying every ``required`` key (the spec's required fields)."""
    if not isinstance(body, dict):
        raise validation_error(f"Invalid input JSON: {where} must be an object")
    missing = [key for key in required if body.get(key) is None]
    if missing:
        raise validation_error(
            f"Invalid input JSON: {where} is missing required field(s): {', '.join(missing)}",
            context={"missingFields": missing})
    return body


def batch_inputs(body: Any, limit: int = 100) -> list[dict[str, Any]]:
    """``{"inputs": [...]}`` with at most 100 objects (HubSpot's batch limit)."""
    inputs = require_dict(body, "inputs")["inputs"]
    if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
        raise validation_error("Invalid input JSON: inputs must be an array of objects")
    if len(inputs) > limit:
        raise validation_error(f"Batch size of {len(inputs)} exceeds the limit of {limit}",
                               context={"limit": [str(limit)]})
    return inputs


def string_list(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise validation_error(f"Invalid input JSON: {name} must be an array of strings")
    return value
