"""sObject resources: retrieve, create, update, delete, upsert, updated/deleted, publish.

Status codes follow the REST API: create 201 with ``{"id","success","errors"}``,
update and delete 204 with no body, upsert 201/200 (or 204 before API 46.0) and
300 on several matches, retrieving a recycled record 404 ENTITY_IS_DELETED.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask import Response, request

from .errors import SalesforceError, json_response, not_found
from .ids import make_id
from .query import render_record
from .schema import SObjectType
from .values import coerce, format_datetime, parse_datetime

if TYPE_CHECKING:
    from .app import SalesforceSandbox

UPDATED_WINDOW = timedelta(days=30)
DELETED_WINDOW = timedelta(days=15)


def api_major(version: str) -> int:
    """``v59.0`` -> 59."""
    return int(version[1:].split(".")[0])


def sobject_or_404(sandbox: SalesforceSandbox, name: str) -> SObjectType:
    """Unknown types in a URL are a plain 404, unlike in SOQL (INVALID_TYPE)."""
    sobject = sandbox.store.type_named(name)
    if sobject is None:
        raise not_found()
    return sobject


def json_body() -> dict[str, Any]:
    """Parse the request body; malformed JSON is JSON_PARSER_ERROR, as in Salesforce."""
    raw = request.get_data(as_text=True)
    try:
        body = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError as exc:
        raise SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            f"Unexpected character ('{raw[exc.pos : exc.pos + 1]}'): was expecting a value at "
            f"[line:{exc.lineno}, column:{exc.colno}]",
        ) from None
    if not isinstance(body, dict):
        raise SalesforceError(
            400,
            "JSON_PARSER_ERROR",
            "Cannot deserialize instance of sObject from START_ARRAY value",
        )
    return body


def _check_fields_param(sobject: SObjectType, fields_param: str | None) -> list[str] | None:
    if not fields_param:
        return None
    names = []
    for name in fields_param.split(","):
        f = sobject.field(name.strip())
        if f is None:
            raise SalesforceError(
                400, "INVALID_FIELD", f"No such column '{name.strip()}' on entity '{sobject.name}'"
            )
        names.append(f.name)
    return names


def retrieve(sandbox: SalesforceSandbox, version: str, name: str, record_id: str) -> Response:
    sobject = sobject_or_404(sandbox, name)
    if sobject.is_platform_event:
        raise not_found()
    record = sandbox.store.get(sobject, record_id)
    wanted = _check_fields_param(sobject, request.args.get("fields"))
    out = render_record(sandbox.store, sobject, None, record, version)
    if wanted is not None:
        out = {"attributes": out["attributes"], **{n: out[n] for n in wanted}}
    return json_response(out)


def create(sandbox: SalesforceSandbox, version: str, name: str) -> Response:
    sobject = sobject_or_404(sandbox, name)
    body = json_body()
    if sobject.is_platform_event:
        return _publish(sandbox, version, sobject, body)
    record = sandbox.store.create(sobject, body)
    location = f"/services/data/{version}/sobjects/{sobject.name}/{record['Id']}"
    return json_response(
        {"id": record["Id"], "success": True, "errors": []}, 201, headers={"Location": location}
    )


def update(sandbox: SalesforceSandbox, name: str, record_id: str) -> Response:
    sobject = sobject_or_404(sandbox, name)
    sandbox.store.update(sobject, record_id, json_body())
    return Response(status=204)


def delete(sandbox: SalesforceSandbox, name: str, record_id: str) -> Response:
    sobject = sobject_or_404(sandbox, name)
    sandbox.store.delete(sobject, record_id)
    return Response(status=204)


# -- external ids ------------------------------------------------------------------------------
def _by_external_id(
    sandbox: SalesforceSandbox, sobject: SObjectType, field_name: str, value: str
) -> tuple[str, list[str]]:
    f = sobject.field(field_name)
    if f is None or not f.external_id:
        raise SalesforceError(
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {field_name}",
        )
    wanted = value.casefold()
    with sandbox.store.lock:
        matches = [
            rid
            for rid, rec in sandbox.store.records[sobject.name].items()
            if not rec.get("IsDeleted")
            and isinstance(rec.get(f.name), str)
            and rec[f.name].casefold() == wanted
        ]
    return f.name, matches


def _multiple(version: str, sobject: SObjectType, ids: list[str]) -> Response:
    return json_response(
        [f"/services/data/{version}/sobjects/{sobject.name}/{rid}" for rid in ids], 300
    )


def get_by_external_id(
    sandbox: SalesforceSandbox, version: str, name: str, field_name: str, value: str
) -> Response:
    sobject = sobject_or_404(sandbox, name)
    _, matches = _by_external_id(sandbox, sobject, field_name, value)
    if not matches:
        raise not_found()
    if len(matches) > 1:
        return _multiple(version, sobject, matches)
    return retrieve(sandbox, version, name, matches[0])


def upsert(
    sandbox: SalesforceSandbox, version: str, name: str, field_name: str, value: str
) -> Response:
    sobject = sobject_or_404(sandbox, name)
    canonical, matches = _by_external_id(sandbox, sobject, field_name, value)
    body = json_body()
    if len(matches) > 1:
        return _multiple(version, sobject, matches)
    if matches:
        sandbox.store.update(sobject, matches[0], body)
        if api_major(version) < 46:
            return Response(status=204)
        return json_response(
            {"id": matches[0], "success": True, "errors": [], "created": False}, 200
        )
    if request.args.get("updateOnly", "").lower() == "true":
        raise not_found()
    record = sandbox.store.create(sobject, {**body, canonical: value})
    return json_response({"id": record["Id"], "success": True, "errors": [], "created": True}, 201)


# -- replication -------------------------------------------------------------------------------
def _window(sandbox: SalesforceSandbox, max_age: timedelta) -> tuple[datetime, datetime]:
    """Parse ``start``/``end``, floored to the minute, and apply Salesforce's limits."""
    parsed = []
    for key in ("start", "end"):
        raw = request.args.get(key)
        if raw is None:
            raise SalesforceError(400, "MISSING_ARGUMENT", f"{key} parameter is required")
        # An unescaped '+' in a query string decodes to a space.
        value = parse_datetime(raw.replace(" ", "+"))
        if value is None:
            raise SalesforceError(
                400, "INVALID_PARAMETER_VALUE", f"Invalid date/time value for {key}: {raw}"
            )
        parsed.append(value.replace(second=0, microsecond=0))
    start, end = parsed
    now = sandbox.store.now()
    if end < start:
        raise SalesforceError(
            400, "INVALID_REPLICATION_DATE", "end date must be after the start date"
        )
    if start < now - max_age:
        raise SalesforceError(
            400,
            "INVALID_REPLICATION_DATE",
            f"startDate cannot be more than {max_age.days} days ago",
        )
    return start, min(end, now.replace(second=0))


def updated(sandbox: SalesforceSandbox, name: str) -> Response:
    sobject = sobject_or_404(sandbox, name)
    start, latest = _window(sandbox, UPDATED_WINDOW)
    ids = sandbox.store.updated_ids(sobject, start, latest)
    return json_response({"ids": ids, "latestDateCovered": format_datetime(latest)})


def deleted(sandbox: SalesforceSandbox, name: str) -> Response:
    sobject = sobject_or_404(sandbox, name)
    start, latest = _window(sandbox, DELETED_WINDOW)
    rows = sandbox.store.deleted_between(sobject, start, latest)
    earliest = sandbox.store.earliest_deletion() or latest
    return json_response(
        {
            "deletedRecords": [
                {"id": rid, "deletedDate": format_datetime(when)} for rid, when in rows
            ],
            "earliestDateAvailable": format_datetime(earliest.replace(second=0)),
            "latestDateCovered": format_datetime(latest),
        }
    )


# -- platform events ---------------------------------------------------------------------------
def _publish(
    sandbox: SalesforceSandbox, version: str, sobject: SObjectType, body: dict[str, Any]
) -> Response:
    event: dict[str, Any] = {}
    for key, value in body.items():
        f = sobject.field(key)
        if f is None:
            raise SalesforceError(
                400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {sobject.name}"
            )
        if not f.createable:
            raise SalesforceError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {f.name}.",
                fields=[f.name],
            )
        event[f.name] = coerce(f, value, sobject.name)
    event_uuid = str(uuid.uuid4())
    with sandbox.store.lock:
        replay_id = len(sandbox.published_events) + 1
        event.update(
            {
                "ReplayId": str(replay_id),
                "EventUuid": event_uuid,
                "CreatedDate": sandbox.store.now(),
                "_type": sobject.name,
            }
        )
        sandbox.published_events.append(event)
    errors: list[dict[str, Any]] = []
    if api_major(version) >= 46:  # newer APIs report the enqueue with the event UUID
        errors = [{"statusCode": "OPERATION_ENQUEUED", "message": event_uuid, "fields": []}]
    return json_response({"id": make_id("e00", 1), "success": True, "errors": errors}, 201)
