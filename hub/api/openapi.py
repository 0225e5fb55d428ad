"""The OpenAPI 3.1 description of /api/v1, served at ``/api/v1/openapi.json``.

Kept by hand, small and close to the code: one schema per answer shape, built with
three helpers. ``tests/admin/test_admin_openapi.py`` checks the document's structure
and validates real answers of every documented route against these schemas, so the
two cannot drift apart unnoticed.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")
Schema = dict[str, Any]
JSON = "application/json"
PROBLEM = "application/problem+json"


def t(kind: str, nullable: bool = False, **extra: Any) -> Schema:
    """A scalar (or ``object``/``array``) type, optionally nullable (3.1 style)."""
    return {"type": [kind, "null"] if nullable else kind, **extra}


def obj(props: dict[str, Schema], *, optional: tuple[str, ...] = (), **extra: Any) -> Schema:
    """An object whose properties are all required unless listed in ``optional``."""
    required = [k for k in props if k not in optional]
    return {"type": "object", "properties": props, "required": required, **extra}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def arr(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def page_of(item: str, **extra: Schema) -> Schema:
    return obj({**extra, "results": arr(ref(item)), "next_cursor": t("string", True)})


TIME = t("string", format="date-time")
TIME_OR_NULL = t("string", True, format="date-time")
COUNTS = t("object", additionalProperties=t("integer"))

SCHEMAS: dict[str, Schema] = {
    "Problem": obj(
        {"type": t("string"), "title": t("string"), "status": t("integer"), "detail": t("string")}
    ),
    "Identity": obj(
        {
            "connector": t("string"),
            "object_type": t("string"),
            "external_id": t("string"),
            "source_updated_at": TIME_OR_NULL,
            "deleted": t("boolean"),
        }
    ),
    "IdentifierValue": obj({"kind": t("string"), "value": t("string")}),
    "Contact": obj(
        {
            "id": t("string"),
            "display_name": t("string", True),
            "first_name": t("string", True),
            "last_name": t("string", True),
            "company": t("string", True),
            "language": t("string", True),
            "tier": t("string", True),
            "attributes": t("object"),
            "identities": arr(ref("Identity")),
            "identifiers": arr(ref("IdentifierValue")),
            "lineage": t("object"),
            "created_at": TIME_OR_NULL,
            "updated_at": TIME_OR_NULL,
        }
    ),
    "ContactLookup": obj({"results": arr(ref("Contact")), "ambiguous": t("boolean")}),
    "Interaction": obj(
        {
            "id": t("integer"),
            "contact_id": t("string"),
            "channel": t("string"),
            "direction": t("string"),
            "occurred_at": TIME_OR_NULL,
            "status": t("string", True),
            "summary": t("string", True),
            "agent": t("string", True),
            "source": obj({"connector": t("string"), "ref": t("string")}),
            "data": t("object"),
        }
    ),
    "InteractionPage": page_of("Interaction"),
    "Context": obj(
        {
            "contact": obj(
                {
                    "id": t("string"),
                    "display_name": t("string", True),
                    "identifiers": arr(ref("IdentifierValue")),
                },
                additionalProperties=True,
            ),
            "identities": arr(t("object")),
            "interactions": arr(ref("Interaction")),
            "open_items": arr(t("object")),
            "journey": t("object", True),
            "match": obj(
                {
                    "confidence": t("number"),
                    "matched_on": t("object", True),
                    "candidates": arr(t("object")),
                }
            ),
            "routing": obj(
                {
                    "last_agent": t("string", True),
                    "preferred_channel": t("string", True),
                    "language": t("string", True),
                    "vip": t("boolean"),
                }
            ),
        }
    ),
    "Budget": obj(
        {
            "bucket": t("string"),
            "limit": t("integer"),
            "used": t("integer"),
            "remaining": t("integer"),
            "window_seconds": t("number"),
            "window_start": TIME_OR_NULL,
        }
    ),
    "JobState": obj(
        {
            "job_id": t("string"),
            "stream": t("string"),
            "paused": t("boolean"),
            "run_requested_at": TIME_OR_NULL,
            "last_started_at": TIME_OR_NULL,
            "last_finished_at": TIME_OR_NULL,
            "last_status": t("string", True),
            "next_run_at": TIME_OR_NULL,
        }
    ),
    "ConnectorHealth": obj(
        {
            "name": t("string"),
            "type": t("string"),
            "status": t("string", enum=["ok", "degraded", "paused", "failing"]),
            "capabilities": t("object", additionalProperties=arr(t("string"))),
            "paused": t("boolean"),
            "last_success_at": TIME_OR_NULL,
            "lag_seconds": t("number", True),
            "error_rate": t("number"),
            "recent_runs": t("integer"),
            "last_error": t("string", True),
            "budgets": arr(ref("Budget")),
            "inbox": COUNTS,
            "jobs": arr(ref("JobState")),
        }
    ),
    "ConnectorList": obj({"results": arr(ref("ConnectorHealth"))}),
    "JobAction": obj(
        {
            "connector": t("string"),
            "action": t("string", enum=["run", "pause", "resume"]),
            "jobs": arr(t("string")),
            "note": t("string"),
        },
        optional=("note",),
    ),
    "JourneyKpis": obj(
        {
            "journeys": t("integer"),
            "contacts": t("integer"),
            "channel_switch_rate": t("number", True),
            "repeat_contact_24h_rate": t("number", True),
            "contacts_per_journey": t("number", True),
        }
    ),
    "Overview": obj(
        {
            "generated_at": TIME,
            "intake_per_minute": t("number"),
            "intake_last_hour": t("integer"),
            "inbox_depth": COUNTS,
            "processing_lag_seconds": t("number"),
            "pop_latency_seconds": obj(
                {"p50": t("number", True), "p95": t("number", True), "count": t("integer")}
            ),
            "failing_connectors": arr(t("string")),
            "journeys": ref("JourneyKpis"),
        }
    ),
    "SyncRun": obj(
        {
            "id": t("integer"),
            "connector": t("string"),
            "stream": t("string"),
            "mode": t("string", enum=["incremental", "full"]),
            "status": t("string", enum=["running", "succeeded", "deferred", "failed"]),
            "started_at": TIME_OR_NULL,
            "finished_at": TIME_OR_NULL,
            "records_read": t("integer"),
            "records_changed": t("integer"),
            "pages": t("integer"),
            "api_calls": t("integer"),
            "cursor_before": t("object", True),
            "cursor_after": t("object", True),
            "error": t("string", True),
        }
    ),
    "SyncRunPage": page_of("SyncRun"),
    "InboxEvent": obj(
        {
            "id": t("integer"),
            "connector": t("string"),
            "endpoint": t("string"),
            "event_type": t("string"),
            "status": t("string", enum=["pending", "done", "ignored", "dead"]),
            "attempts": t("integer"),
            "received_at": TIME_OR_NULL,
            "processed_at": TIME_OR_NULL,
            "next_attempt_at": TIME_OR_NULL,
            "last_error": t("string", True),
        }
    ),
    "InboxPage": page_of("InboxEvent", counts=COUNTS),
    "Delivery": obj(
        {
            "id": t("integer"),
            "target": t("string"),
            "contact_id": t("string", True),
            "status": t("string", enum=["pending", "delivered", "dead"]),
            "attempts": t("integer"),
            "created_at": TIME_OR_NULL,
            "received_at": TIME_OR_NULL,
            "delivered_at": TIME_OR_NULL,
            "latency_seconds": t("number", True),
            "external_ref": t("string", True),
            "last_error": t("string", True),
        }
    ),
    "DeliveryPage": page_of("Delivery", counts=COUNTS),
    "ReplayRequest": obj(
        {"ids": arr(t("integer", minimum=1)), "status": t("string")}, optional=("ids", "status")
    ),
    "Replayed": obj({"replayed": t("integer")}),
    "AuditEntry": obj(
        {
            "id": t("integer"),
            "at": TIME_OR_NULL,
            "actor": t("string"),
            "action": t("string"),
            "subject": t("string", True),
            "details": t("object"),
        }
    ),
    "AuditPage": page_of("AuditEntry"),
    "Unmerged": obj({"unmerged": t("integer"), "result": {}}),
    "Candidate": obj(
        {
            "kind": t("string", enum=["phone", "email"]),
            "value": t("string"),
            "holders": t("integer"),
            "contacts": arr(obj({"id": t("string"), "display_name": t("string", True)})),
        }
    ),
    "CandidateList": obj({"results": arr(ref("Candidate"))}),
    "Token": obj(
        {
            "id": t("integer"),
            "name": t("string"),
            "role": t("string", enum=["viewer", "operator", "admin"]),
            "prefix": t("string"),
            "created_by": t("string"),
            "created_at": TIME,
            "last_used_at": TIME_OR_NULL,
            "revoked_at": TIME_OR_NULL,
        }
    ),
    "NewToken": {"allOf": [ref("Token"), obj({"token": t("string", description="shown once")})]},
    "TokenList": obj({"results": arr(ref("Token"))}),
    "TokenRequest": obj(
        {"role": t("string", enum=["viewer", "operator", "admin"]), "name": t("string")},
        optional=("name",),
    ),
    "JobRequest": obj({"stream": t("string")}, optional=("stream",)),
}


def _q(name: str, description: str, kind: str = "string", **extra: Any) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": t(kind, **extra),
    }


def _p(name: str, kind: str = "string") -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": t(kind)}


PAGING = [
    _q("limit", "rows per page (1-200, default 50)", "integer", minimum=1, maximum=200),
    _q("cursor", "next_cursor of the previous page"),
]
LOOKUP = [
    _q("phone", "a phone number in any format"),
    _q("email", "an e-mail address"),
    _q("connector", "with object_type and id: a source record"),
    _q("object_type", "the source record's type"),
    _q("id", "the source record's id"),
]


def _op(
    summary: str,
    role: str,
    answer: str | None,
    *,
    status: str = "200",
    params: list[Schema] | None = None,
    body: str | None = None,
    errors: tuple[str, ...] = (),
) -> Schema:
    responses: dict[str, Any] = {
        status: {"description": summary}
        if answer is None
        else {"description": summary, "content": {JSON: {"schema": ref(answer)}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
    }
    if role != "viewer":
        responses["403"] = {"$ref": "#/components/responses/Forbidden"}
    for code in errors:
        responses[code] = {"$ref": "#/components/responses/Problem"}
    op: Schema = {
        "summary": summary,
        "description": f"Needs the {role} role (or a higher one).",
        "x-threadline-role": role,
        "security": [{"bearer": []}],
        "responses": responses,
    }
    if params:
        op["parameters"] = params
    if body:
        op["requestBody"] = {"required": False, "content": {JSON: {"schema": ref(body)}}}
    return op


def _paths() -> dict[str, Any]:
    a = "/api/v1/admin"
    return {
        "/api/v1/contacts": {
            "get": _op(
                "Find contacts", "viewer", "ContactLookup", params=LOOKUP, errors=("400", "404")
            )
        },
        "/api/v1/contacts/{contact_id}": {
            "parameters": [_p("contact_id")],
            "get": _op("One contact", "viewer", "Contact", errors=("404",)),
        },
        "/api/v1/contacts/{contact_id}/interactions": {
            "parameters": [_p("contact_id")],
            "get": _op(
                "A contact's timeline, newest first",
                "viewer",
                "InteractionPage",
                params=PAGING,
                errors=("400", "404"),
            ),
        },
        "/api/v1/context": {
            "get": _op(
                "Everything an agent needs about a caller",
                "viewer",
                "Context",
                params=LOOKUP,
                errors=("400", "404"),
            )
        },
        f"{a}/overview": {
            "get": _op("Intake, inbox, lag, pop latency, journeys", "viewer", "Overview")
        },
        f"{a}/connectors": {"get": _op("Connectors with health", "viewer", "ConnectorList")},
        f"{a}/connectors/{{name}}": {
            "parameters": [_p("name")],
            "get": _op("One connector's health", "viewer", "ConnectorHealth", errors=("404",)),
        },
        **{
            f"{a}/connectors/{{name}}/{action}": {
                "parameters": [_p("name")],
                "post": _op(
                    summary,
                    "operator",
                    "JobAction",
                    body="JobRequest",
                    status="202" if action == "run" else "200",
                    errors=("400", "404"),
                ),
            }
            for action, summary in (
                ("run", "Ask the schedulers to run the connector's streams now"),
                ("pause", "Pause the connector's scheduled streams on every host"),
                ("resume", "Resume the connector's scheduled streams"),
            )
        },
        f"{a}/sync-runs": {
            "get": _op(
                "Sync runs, newest first",
                "viewer",
                "SyncRunPage",
                params=[
                    _q("connector", "only this connector"),
                    _q("stream", "only this stream"),
                    _q("status", "running, succeeded, deferred or failed"),
                    *PAGING,
                ],
                errors=("400",),
            )
        },
        f"{a}/inbox": {
            "get": _op(
                "Inbox events by status",
                "viewer",
                "InboxPage",
                params=[
                    _q("status", "pending, done, ignored or dead"),
                    _q("connector", "only this one"),
                    *PAGING,
                ],
                errors=("400",),
            )
        },
        f"{a}/inbox/replay": {
            "post": _op(
                "Re-queue events: ids, or every event in a status",
                "operator",
                "Replayed",
                body="ReplayRequest",
                errors=("400",),
            )
        },
        f"{a}/deliveries": {
            "get": _op(
                "Pop deliveries",
                "viewer",
                "DeliveryPage",
                params=[
                    _q("status", "pending, delivered or dead"),
                    _q("target", "only this target"),
                    *PAGING,
                ],
                errors=("400",),
            )
        },
        f"{a}/deliveries/replay": {
            "post": _op(
                "Re-queue deliveries: ids, or status dead",
                "operator",
                "Replayed",
                body="ReplayRequest",
                errors=("400",),
            )
        },
        f"{a}/merges": {
            "get": _op(
                "Merges (audit entries contact.merge)",
                "viewer",
                "AuditPage",
                params=PAGING,
                errors=("400",),
            )
        },
        f"{a}/merges/{{audit_id}}/unmerge": {
            "parameters": [_p("audit_id", "integer")],
            "post": _op(
                "Undo a merge (501 until the identity engine offers it)",
                "operator",
                "Unmerged",
                errors=("404", "409", "501"),
            ),
        },
        f"{a}/candidates": {
            "get": _op(
                "Phones and e-mails held by several contacts",
                "viewer",
                "CandidateList",
                params=PAGING[:1],
            )
        },
        f"{a}/audit": {
            "get": _op(
                "The audit log",
                "viewer",
                "AuditPage",
                params=[
                    _q("action", "e.g. inbox.replay, token.create, contact.merge"),
                    _q("subject", "e.g. a contact id or token:<id>"),
                    _q("actor", "who"),
                    *PAGING,
                ],
                errors=("400",),
            )
        },
        f"{a}/tokens": {
            "get": _op("API tokens (never the tokens themselves)", "admin", "TokenList"),
            "post": _op(
                "Create a token; the answer shows it once",
                "admin",
                "NewToken",
                status="201",
                body="TokenRequest",
                errors=("400",),
            ),
        },
        f"{a}/tokens/{{token_id}}": {
            "parameters": [_p("token_id", "integer")],
            "delete": _op("Revoke a token", "admin", "Token", errors=("404",)),
        },
    }


def _problem(description: str) -> Schema:
    return {"description": description, "content": {PROBLEM: {"schema": ref("Problem")}}}


def spec() -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Threadline API",
            "version": "1",
            "description": "Read, context and admin APIs of a Threadline hub. Every call "
            "needs Authorization: Bearer <token>; roles: viewer < operator < admin.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Unauthorized": _problem("No token, or an unknown or revoked one"),
                "Forbidden": _problem("The token's role is too low"),
                "Problem": _problem("The request cannot be answered; detail says why"),
            },
        },
        "security": [{"bearer": []}],
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(spec())
