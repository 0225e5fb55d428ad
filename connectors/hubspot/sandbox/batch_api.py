"""CRM v3 batch endpoints: read, create, update, upsert, archive (at most 100 inputs).

Status codes from HubSpot's specs: create 201, read/update/upsert 200, 207 with
``numErrors``/``errors`` when some inputs failed, archive 204. Validation failures reject
the whole batch with a 400, as HubSpot does.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .associations import parse_create_associations
from .errors import conflict, validation_error
from .http import batch_inputs, json_body, object_type, require_dict, sandbox, string_list
from .objects_api import written_view
from .schema import ObjectType, validate_properties
from .serialize import parse_bool, render
from .store import Record
from .timeutil import iso_ms, now_ms

bp = Blueprint("hubspot_batch", __name__)


def batch_response(results: list[dict[str, Any]], started_ms: int,
                   missing: list[str] | None = None, obj: ObjectType | None = None,
                   ok_status: int = 200) -> tuple[Response, int]:
    """``BatchResponse…`` (or ``…WithErrors`` + 207 when some ids were not found)."""
    body: dict[str, Any] = {"status": "COMPLETE", "results": results,
                            "startedAt": iso_ms(started_ms),
                            "completedAt": iso_ms(now_ms(sandbox().clock))}
    if missing and obj is not None:
        body["numErrors"] = 1
        body["errors"] = [{
            "status": "error", "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {obj.singular.upper()} objects, they may be "
                       "deleted or not exist. Check that ids are valid.",
            "context": {"ids": missing}, "errors": [], "links": {}}]
        return jsonify(body), 207
    return jsonify(body), ok_status


def _id_of(item: dict[str, Any], where: str) -> str:
    require_dict(item, "id", where=where)
    return str(item["id"])


@bp.post("/crm/v3/objects/<type_name>/batch/read")
def batch_read(type_name: str) -> tuple[Response, int]:
    obj = object_type(type_name)
    body = json_body()
    inputs = batch_inputs(body)
    props = string_list(body.get("properties"), "properties")
    history = string_list(body.get("propertiesWithHistory"), "propertiesWithHistory")
    id_property = body.get("idProperty")
    archived = parse_bool(request.args.get("archived"), "archived")
    started = now_ms(sandbox().clock)
    store = sandbox().store
    results, missing, seen = [], [], set()
    for i, item in enumerate(inputs):
        key = _id_of(item, f"inputs[{i}]")
        record = store.get(obj, key, id_property, archived)
        if record is None:
            missing.append(key)
        elif record.id not in seen:
            seen.add(record.id)
            results.append(render(obj, record, props, with_history=history))
    return batch_response(results, started, missing, obj)


@bp.post("/crm/v3/objects/<type_name>/batch/create")
def batch_create(type_name: str) -> tuple[Response, int]:
    obj = object_type(type_name)
    inputs = batch_inputs(json_body())
    store = sandbox().store
    started = now_ms(sandbox().clock)
    prepared = []
    for i, item in enumerate(inputs):
        require_dict(item, "properties", where=f"inputs[{i}]")
        values = validate_properties(obj, item["properties"], creating=True)
        links = parse_create_associations(store, obj, item.get("associations"))
        prepared.append((values, links))
    _reject_duplicate_keys(obj, [values for values, _ in prepared])
    with store.lock:
        created: list[tuple[Record, dict[str, str]]] = []
        for values, links in prepared:
            record = store.insert(obj, values)
            for to_type, to_id, type_id in links:
                store.associate(obj.name, record.id, to_type, to_id, [type_id])
            created.append((record, values))
    results = [written_view(obj, r, v) for r, v in created]
    return batch_response(results, started, ok_status=201)


def _reject_duplicate_keys(obj: ObjectType, batch: list[dict[str, str]]) -> None:
    """A unique value twice in one batch, or already stored, fails the batch with 409."""
    store = sandbox().store
    for prop in obj.unique_props:
        seen: set[str] = set()
        for values in batch:
            value = values.get(prop, "").lower()
            if not value:
                continue
            if value in seen:
                raise validation_error(f"Duplicate {prop} in batch: {value}")
            seen.add(value)
            existing = store.get(obj, value, prop)
            if existing is not None:
                raise conflict(f"{obj.singular.capitalize()} already exists. "
                               f"Existing ID: {existing.id}")


@bp.post("/crm/v3/objects/<type_name>/batch/update")
def batch_update(type_name: str) -> tuple[Response, int]:
    obj = object_type(type_name)
    inputs = batch_inputs(json_body())
    store = sandbox().store
    started = now_ms(sandbox().clock)
    planned, missing = [], []
    for i, item in enumerate(inputs):
        key = _id_of(item, f"inputs[{i}]")
        require_dict(item, "properties", where=f"inputs[{i}]")
        values = validate_properties(obj, item["properties"], creating=False)
        record = store.get(obj, key, item.get("idProperty"))
        if record is None:
            missing.append(key)
        else:
            planned.append((record, values))
    results = [written_view(obj, store.update(obj, r, v), v) for r, v in planned]
    return batch_response(results, started, missing, obj)


@bp.post("/crm/v3/objects/<type_name>/batch/upsert")
def batch_upsert(type_name: str) -> tuple[Response, int]:
    obj = object_type(type_name)
    inputs = batch_inputs(json_body())
    store = sandbox().store
    started = now_ms(sandbox().clock)
    planned = []
    for i, item in enumerate(inputs):
        key = _id_of(item, f"inputs[{i}]")
        require_dict(item, "properties", "idProperty", where=f"inputs[{i}]")
        id_property = item["idProperty"]
        if id_property not in obj.unique_props:
            raise validation_error(
                f"inputs[{i}]: idProperty {id_property} is not a unique property of {obj.name}")
        values = validate_properties(obj, item["properties"], creating=False)
        planned.append((key, id_property, values))
    results = []
    with store.lock:
        for key, id_property, values in planned:
            record = store.get(obj, key, id_property)
            if record is None:
                validate_properties(obj, {**values, id_property: key}, creating=True)
                record = store.insert(obj, {**values, id_property: key})
                is_new = True
            else:
                store.update(obj, record, values)
                is_new = False
            results.append({**written_view(obj, record, values), "new": is_new})
    return batch_response(results, started)


@bp.post("/crm/v3/objects/<type_name>/batch/archive")
def batch_archive(type_name: str) -> Response:
    obj = object_type(type_name)
    inputs = batch_inputs(json_body())
    store = sandbox().store
    for i, item in enumerate(inputs):
        record = store.get(obj, _id_of(item, f"inputs[{i}]"))
        if record is not None:
            store.archive(obj, record)
    return Response(status=204)
