"""Associations v4: single and batch create/read/archive, and default associations.

Shapes from HubSpot's ``crm-associations-v4`` spec (../shared/protocols.md §1.6): PUT
with a JSON array of ``AssociationSpec`` -> 201 ``LabelsBetweenObjectPair`` (ids as
numbers on the wire); GET -> ``toObjectId`` numbers and ``associationTypes``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from .associations import parse_spec
from .batch_api import batch_response
from .errors import not_found, validation_error
from .http import batch_inputs, json_body, object_type, require_dict, sandbox
from .schema import ASSOCIATION_TYPES, DEFAULT_ASSOCIATION, ObjectType
from .serialize import paging, parse_limit
from .store import Record
from .timeutil import now_ms

bp = Blueprint("hubspot_associations", __name__)
PREFIX = "/crm/v4/objects/<from_type>/<from_id>/associations"


def _pair(from_type: str, to_type: str) -> tuple[ObjectType, ObjectType]:
    src, dst = object_type(from_type), object_type(to_type)
    if (src.name, dst.name) not in DEFAULT_ASSOCIATION:
        raise validation_error(f"No associations exist between {src.name} and {dst.name}")
    return src, dst


def _record(obj: ObjectType, key: Any) -> Record:
    record = sandbox().store.get(obj, str(key))
    if record is None:
        raise not_found(f"{obj.singular} {key} does not exist")
    return record


def _labels_pair(src: ObjectType, a: Record, dst: ObjectType, b: Record) -> dict[str, Any]:
    types = dict(sandbox().store.associations(src.name, a.id, dst.name)).get(b.id, set())
    labels = sorted({label for t in types if (label := ASSOCIATION_TYPES[t].label)})
    return {"fromObjectTypeId": src.type_id, "fromObjectId": a.id,
            "toObjectTypeId": dst.type_id, "toObjectId": b.id, "labels": labels}


def _type_rows(types: set[int]) -> list[dict[str, Any]]:
    return [{"category": "HUBSPOT_DEFINED", "typeId": t, "label": ASSOCIATION_TYPES[t].label}
            for t in sorted(types)]


def _specs(raw: Any, src: ObjectType, dst: ObjectType) -> list[int]:
    if not isinstance(raw, list) or not raw:
        raise validation_error("Invalid input JSON: expected a non-empty array of "
                               "AssociationSpec")
    return [parse_spec(s, src, dst.name, f"[{i}]") for i, s in enumerate(raw)]


@bp.put(f"{PREFIX}/<to_type>/<to_id>")
def create(from_type: str, from_id: str, to_type: str, to_id: str) -> tuple[Response, int]:
    src, dst = _pair(from_type, to_type)
    type_ids = _specs(json_body(), src, dst)
    a, b = _record(src, from_id), _record(dst, to_id)
    sandbox().store.associate(src.name, a.id, dst.name, b.id, type_ids)
    return jsonify(_labels_pair(src, a, dst, b)), 201


@bp.put(f"{PREFIX}/default/<to_type>/<to_id>")
def create_default(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
    src, dst = _pair(from_type, to_type)
    started = now_ms(sandbox().clock)
    a, b = _record(src, from_id), _record(dst, to_id)
    result = _default(src, a, dst, b)
    return batch_response([result], started)[0]


def _default(src: ObjectType, a: Record, dst: ObjectType, b: Record) -> dict[str, Any]:
    type_id = DEFAULT_ASSOCIATION[(src.name, dst.name)]
    sandbox().store.associate(src.name, a.id, dst.name, b.id, [type_id])
    return {"from": {"id": str(a.id)}, "to": {"id": str(b.id)},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED",
                                "associationTypeId": type_id}}


@bp.get(f"{PREFIX}/<to_type>")
def get_page(from_type: str, from_id: str, to_type: str) -> Response:
    src, dst = _pair(from_type, to_type)
    a = _record(src, from_id)
    limit = parse_limit(request.args.get("limit"), 500, 500)
    after = request.args.get("after") or "0"
    if not after.isdigit():
        raise validation_error(f"Invalid after cursor: {after}")
    rows = sandbox().store.associations(src.name, a.id, dst.name)
    page = [r for r in rows if r[0] >= int(after)][: limit + 1]
    results = [{"toObjectId": to_id, "associationTypes": _type_rows(types)}
               for to_id, types in page[:limit]]
    nxt = page[limit][0] if len(page) > limit else None
    return jsonify({"results": results, **paging(nxt, link_base="")})


@bp.delete(f"{PREFIX}/<to_type>/<to_id>")
def archive(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
    src, dst = _pair(from_type, to_type)
    a, b = _record(src, from_id), _record(dst, to_id)
    sandbox().store.dissociate(src.name, a.id, dst.name, b.id)
    return Response(status=204)


BATCH = "/crm/v4/associations/<from_type>/<to_type>/batch"


def _ref(item: dict[str, Any], key: str, where: str) -> str:
    ref = item.get(key)
    if not isinstance(ref, dict) or ref.get("id") is None:
        raise validation_error(f"{where}.{key}.id is required")
    return str(ref["id"])


@bp.post(f"{BATCH}/create")
def batch_create(from_type: str, to_type: str) -> tuple[Response, int]:
    src, dst = _pair(from_type, to_type)
    started = now_ms(sandbox().clock)
    inputs = batch_inputs(json_body(), limit=2000)
    planned = []
    for i, item in enumerate(inputs):
        require_dict(item, "from", "to", "types", where=f"inputs[{i}]")
        a = _record(src, _ref(item, "from", f"inputs[{i}]"))
        b = _record(dst, _ref(item, "to", f"inputs[{i}]"))
        planned.append((a, b, _specs(item["types"], src, dst)))
    for a, b, type_ids in planned:
        sandbox().store.associate(src.name, a.id, dst.name, b.id, type_ids)
    results = [_labels_pair(src, a, dst, b) for a, b, _ in planned]
    return batch_response(results, started, ok_status=201)


@bp.post(f"{BATCH}/associate/default")
def batch_default(from_type: str, to_type: str) -> Response:
    src, dst = _pair(from_type, to_type)
    started = now_ms(sandbox().clock)
    inputs = batch_inputs(json_body(), limit=2000)
    pairs = [(_record(src, _ref(item, "from", f"inputs[{i}]")),
              _record(dst, _ref(item, "to", f"inputs[{i}]"))) for i, item in enumerate(inputs)]
    return batch_response([_default(src, a, dst, b) for a, b in pairs], started)[0]


@bp.post(f"{BATCH}/read")
def batch_read(from_type: str, to_type: str) -> tuple[Response, int]:
    src, dst = _pair(from_type, to_type)
    started = now_ms(sandbox().clock)
    inputs = batch_inputs(json_body(), limit=1000)
    store = sandbox().store
    results, missing = [], []
    for i, item in enumerate(inputs):
        key = str(require_dict(item, "id", where=f"inputs[{i}]")["id"])
        record = store.get(src, key)
        rows = store.associations(src.name, record.id, dst.name) if record else []
        if not rows:
            missing.append(key)
            continue
        results.append({"from": {"id": key}, "to": [
            {"toObjectId": to_id, "associationTypes": _type_rows(types)}
            for to_id, types in rows]})
    return batch_response(results, started, missing, src)


@bp.post(f"{BATCH}/archive")
def batch_archive(from_type: str, to_type: str) -> Response:
    src, dst = _pair(from_type, to_type)
    inputs = batch_inputs(json_body(), limit=2000)
    store = sandbox().store
    for i, item in enumerate(inputs):
        a = store.get(src, _ref(item, "from", f"inputs[{i}]"))
        targets = item.get("to")
        if a is None or not isinstance(targets, list):
            continue
        for target in targets:
            b = store.get(dst, str(target.get("id", ""))) if isinstance(target, dict) else None
            if b is not None:
                store.dissociate(src.name, a.id, dst.name, b.id)
    return Response(status=204)
