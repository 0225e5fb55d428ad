"""Given the served OpenAPI document, then it is structurally valid OpenAPI 3.1 (every
operation answers, every $ref resolves) and real answers of the documented routes
match their schemas."""

from __future__ import annotations

import re
from typing import Any

from helpers.flow import drain, post
from helpers.signing import contact_event, interaction_event
from ops_helpers import crm_instance, events_instance

from hub.app import create_app
from hub.store.db import transaction
from hub.store.models import AuditEntry
from hub.sync import run_stream
from hub.tokens import create_token

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        assert node["$ref"].startswith("#/"), node
        target: Any = spec
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def check(spec: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    """A small JSON Schema checker for the keywords the spec uses."""
    schema = resolve(spec, schema)
    for part in schema.get("allOf", []):
        check(spec, part, value, where)
    kinds = schema.get("type")
    if kinds is not None:
        kinds = kinds if isinstance(kinds, list) else [kinds]
        ok = any(
            (k == "integer" and isinstance(value, int) and not isinstance(value, bool))
            or (k == "number" and isinstance(value, int | float) and not isinstance(value, bool))
            or (k in TYPES and isinstance(value, TYPES[k]))
            for k in kinds
        )
        assert ok, f"{where}: {value!r} is not {kinds}"
    if "enum" in schema and value is not None:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, f"{where}: missing {key}"
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                check(spec, sub, value[key], f"{where}.{key}")
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, item in value.items():
                if key not in schema.get("properties", {}):
                    check(spec, extra, item, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            check(spec, schema["items"], item, f"{where}[{index}]")


def test_document_is_structurally_valid_openapi_3_1(client: Any) -> None:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    spec = answer.json
    assert spec["openapi"].startswith("3.1.")
    assert {"title", "version"} <= set(spec["info"])
    refs = re.findall(r'"\$ref": "([^"]+)"', answer.get_data(as_text=True))
    for target in refs:
        resolve(spec, {"$ref": target})  # raises KeyError when dangling
    operation_ids = 0
    for path, item in spec["paths"].items():
        assert path.startswith("/api/v1/")
        templated = set(re.findall(r"{(\w+)}", path))
        declared = {p["name"] for p in item.get("parameters", []) if p["in"] == "path"}
        assert templated == declared, path
        for method, op in item.items():
            if method == "parameters":
                continue
            assert method in {"get", "post", "delete"}, (path, method)
            assert op["responses"], (path, method)
            assert all(re.fullmatch(r"[1-5]\d\d", code) for code in op["responses"])
            for param in op.get("parameters", []):
                assert {"name", "in", "schema"} <= set(param)
            operation_ids += 1
    assert operation_ids >= 22
    assert set(spec["components"]["securitySchemes"]["bearer"]) == {"type", "scheme"}


def test_real_answers_match_the_documented_schemas(make_runtime: Any) -> None:
    runtime = make_runtime(connectors=[events_instance(), crm_instance()])
    client = create_app(runtime=runtime).test_client()
    with transaction(runtime.sessions) as session:
        _, token = create_token(session, role="admin", name="spec", actor="test")
        session.add(
            AuditEntry(
                actor="connector:crm",
                action="contact.merge",
                subject="ct_x",
                details={"rule": "source_merge"},
            )
        )
    auth = {"Authorization": f"Bearer {token}"}
    post(client, contact_event("c-1"))
    post(client, interaction_event("call-1"))
    drain(runtime)
    crm = runtime.connectors["crm"]
    run_stream(runtime, crm, crm.streams()[0])
    spec = client.get("/api/v1/openapi.json").json
    contact_id = client.get("/api/v1/contacts?email=ada@example.com", headers=auth).json["results"][
        0
    ]["id"]
    calls = [
        ("get", "/api/v1/contacts", "?email=ada@example.com", None),
        ("get", "/api/v1/contacts/{contact_id}", "", None),
        ("get", "/api/v1/contacts/{contact_id}/interactions", "", None),
        ("get", "/api/v1/context", "?phone=4155550142", None),
        *[
            ("get", p, "", None)
            for p in spec["paths"]
            if p.startswith("/api/v1/admin") and "{" not in p and "get" in spec["paths"][p]
        ],
        ("get", "/api/v1/admin/connectors/{name}", "", None),
        ("post", "/api/v1/admin/connectors/{name}/run", "", {}),
        ("post", "/api/v1/admin/connectors/{name}/pause", "", {}),
        ("post", "/api/v1/admin/inbox/replay", "", {"status": "dead"}),
        ("post", "/api/v1/admin/deliveries/replay", "", {"status": "dead"}),
        ("post", "/api/v1/admin/tokens", "", {"role": "viewer"}),
        ("delete", "/api/v1/admin/tokens/{token_id}", "", None),
        ("post", "/api/v1/admin/merges/{audit_id}/unmerge", "", None),
    ]
    values = {"contact_id": contact_id, "name": "crm", "token_id": "1", "audit_id": "1"}
    for method, template, query, body in calls:
        url = re.sub(r"{(\w+)}", lambda m: values[m.group(1)], template) + query
        answer = client.open(url, method=method.upper(), json=body, headers=auth)
        responses = spec["paths"][template][method]["responses"]
        assert str(answer.status_code) in responses, (url, answer.status_code)
        documented = resolve(spec, responses[str(answer.status_code)])
        content = documented.get("content", {})
        assert answer.mimetype in content, (url, answer.mimetype)
        check(spec, content[answer.mimetype]["schema"], answer.json, url)
