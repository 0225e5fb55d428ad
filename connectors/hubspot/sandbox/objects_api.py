"""CRM v3 objects: list, get, create, update, archive, merge and search.

Endpoints and status codes from HubSpot's ``crm-*-v3`` OpenAPI specs
(../shared/protocols.md §1.3): create 201, archive 204 (also for unknown ids), list pages
of at most 100 with ``paging`` absent on the last page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .associations import parse_create_associations
from .errors import not_found, validation_error
from .http import json_body, object_type, require_dict, sandbox
from .schema import ObjectType, validate_properties
from .search import search
from .serialize import paging, parse_bool, parse_limit, render, render_associations, split_list
from .store import Record

bp = Blueprint("hubspot_objects", __name__)
LIST_MAX_LIMIT = 100


def _query_lists() -> tuple[list[str], list[str], list[str]]:
    args = request.args
    return (split_list(args.getlist("properties")),
            split_list(args.getlist("propertiesWithHistory")),
            split_list(args.getlist("associations")))


def _render_full(obj: ObjectType, record: Record, props: list[str], history: list[str],
                 assocs: list[str]) -> dict[str, Any]:
    body = render(obj, record, props, with_history=history)
    if assocs:
        found = render_associations(sandbox().store, obj, record, assocs)
        if found:
            body["associations"] = found
    return body


def written_view(obj: ObjectType, record: Record, values: dict[str, str]) -> dict[str, Any]:
    """Create/update responses show the written properties plus the defaults."""
    names = list(dict.fromkeys([*obj.default_properties, *values]))
    return render(obj, record, names)


def create_one(obj: ObjectType, item: Any, where: str = "body") -> tuple[Record, dict[str, str]]:
    """Validate and insert one ``SimplePublicObjectInputForCreate``."""
    store = sandbox().store
    item = require_dict(item, "properties", where=where)
    values = validate_properties(obj, item["properties"], creating=True)
    links = parse_create_associations(store, obj, item.get("associations"))
    with store.lock:
        record = store.insert(obj, values)
        for to_type, to_id, type_id in links:
            store.associate(obj.name, record.id, to_type, to_id, [type_id])
    return record, values


@bp.get("/crm/v3/objects/<type_name>")
def list_objects(type_name: str) -> Response:
    obj = object_type(type_name)
    props, history, assocs = _query_lists()
    limit = parse_limit(request.args.get("limit"), 10, LIST_MAX_LIMIT)
    after_raw = request.args.get("after") or "0"
    if not after_raw.isdigit():
        raise validation_error(f"Invalid after cursor: {after_raw}")
    archived = parse_bool(request.args.get("archived"), "archived")
    records, nxt = sandbox().store.page(obj, int(after_raw), limit, archived)
    results = [_render_full(obj, r, props, history, assocs) for r in records]
    return jsonify({"results": results, **paging(nxt, link_base="")})


@bp.get("/crm/v3/objects/<type_name>/<object_id>")
def get_object(type_name: str, object_id: str) -> Response:
    obj = object_type(type_name)
    props, history, assocs = _query_lists()
    archived = parse_bool(request.args.get("archived"), "archived")
    record = sandbox().store.get(obj, object_id, request.args.get("idProperty"), archived)
    if record is None:
        raise not_found()
    return jsonify(_render_full(obj, record, props, history, assocs))


@bp.post("/crm/v3/objects/<type_name>")
def create_object(type_name: str) -> tuple[Response, int]:
    obj = object_type(type_name)
    record, values = create_one(obj, json_body())
    return jsonify(written_view(obj, record, values)), 201


@bp.patch("/crm/v3/objects/<type_name>/<object_id>")
def update_object(type_name: str, object_id: str) -> Response:
    obj = object_type(type_name)
    body = require_dict(json_body(), "properties")
    store = sandbox().store
    record = store.require(obj, object_id, request.args.get("idProperty"))
    values = validate_properties(obj, body["properties"], creating=False)
    store.update(obj, record, values)
    return jsonify(written_view(obj, record, values))


@bp.delete("/crm/v3/objects/<type_name>/<object_id>")
def archive_object(type_name: str, object_id: str) -> Response:
    obj = object_type(type_name)
    store = sandbox().store
    record = store.get(obj, object_id)
    if record is not None:
        store.archive(obj, record)
    return Response(status=204)  # HubSpot answers 204 for unknown ids too


@bp.post("/crm/v3/objects/<type_name>/merge")
def merge_objects(type_name: str) -> Response:
    obj = object_type(type_name)
    if obj.name not in ("contacts", "companies"):
        raise validation_error(f"Merging is not supported for {obj.name}")
    body = require_dict(json_body(), "primaryObjectId", "objectIdToMerge")
    store = sandbox().store
    primary = store.get(obj, str(body["primaryObjectId"]))
    other = store.get(obj, str(body["objectIdToMerge"]))
    if primary is None or other is None:
        raise validation_error("Both primaryObjectId and objectIdToMerge must exist",
                               context={"ids": [str(body["primaryObjectId"]),
                                                str(body["objectIdToMerge"])]})
    merged = store.merge(obj, primary, other)
    return jsonify(render(obj, merged))


@bp.post("/crm/v3/objects/<type_name>/search")
def search_objects(type_name: str) -> Response:
    obj = object_type(type_name)
    sb = sandbox()
    return jsonify(search(sb.store, obj, json_body(), sb.search_cap))
