"""Given each role, when it calls each admin endpoint, then viewers read, operators
also act, admins also manage tokens, and everyone else is refused (401/403)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.config import TEST_TOKEN
from ops_helpers import crm_instance, events_instance

from hub.admin.ops import unmerge_available

RANK = {"anonymous": -1, "viewer": 0, "operator": 1, "admin": 2}

# (method, path, body, least role, status when allowed)
ENDPOINTS: list[tuple[str, str, Any, str, int]] = [
    ("GET", "/api/v1/admin/overview", None, "viewer", 200),
    ("GET", "/api/v1/admin/connectors", None, "viewer", 200),
    ("GET", "/api/v1/admin/connectors/crm", None, "viewer", 200),
    ("POST", "/api/v1/admin/connectors/crm/run", {}, "operator", 202),
    ("POST", "/api/v1/admin/connectors/crm/pause", {}, "operator", 200),
    ("POST", "/api/v1/admin/connectors/crm/resume", {}, "operator", 200),
    ("GET", "/api/v1/admin/sync-runs", None, "viewer", 200),
    ("GET", "/api/v1/admin/inbox?status=dead", None, "viewer", 200),
    ("POST", "/api/v1/admin/inbox/replay", {"status": "dead"}, "operator", 200),
    ("GET", "/api/v1/admin/deliveries", None, "viewer", 200),
    ("POST", "/api/v1/admin/deliveries/replay", {"status": "dead"}, "operator", 200),
    ("GET", "/api/v1/admin/merges", None, "viewer", 200),
    (
        "POST",
        "/api/v1/admin/merges/999/unmerge",
        {},
        "operator",
        404 if unmerge_available() else 501,
    ),
    ("GET", "/api/v1/admin/candidates", None, "viewer", 200),
    ("GET", "/api/v1/admin/audit", None, "viewer", 200),
    ("GET", "/api/v1/admin/tokens", None, "admin", 200),
    ("POST", "/api/v1/admin/tokens", {"role": "viewer", "name": "ci"}, "admin", 201),
    ("DELETE", "/api/v1/admin/tokens/1", None, "admin", 200),
    ("GET", "/api/v1/contacts?email=nobody@example.com", None, "viewer", 404),
    ("GET", "/api/v1/context?email=nobody@example.com", None, "viewer", 404),
]


@pytest.fixture
def crm_client(make_runtime: Any) -> Any:
    from hub.app import create_app

    runtime = make_runtime(connectors=[events_instance(), crm_instance()])
    return runtime, create_app(runtime=runtime).test_client()


@pytest.mark.parametrize(
    ("method", "path", "body", "least", "allowed"),
    ENDPOINTS,
    ids=[f"{m} {p.split('?')[0].removeprefix('/api/v1')}" for m, p, *_ in ENDPOINTS],
)
def test_each_endpoint_allows_its_role_and_above_and_refuses_the_rest(
    crm_client: Any, method: str, path: str, body: Any, least: str, allowed: int
) -> None:
    from hub.store.db import transaction
    from hub.tokens import create_token

    runtime, client = crm_client
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with transaction(runtime.sessions) as session:
        for role in ("viewer", "operator", "admin"):
            _, token = create_token(session, role=role, name=role, actor="test")
            headers[role] = {"Authorization": f"Bearer {token}"}
    # Lowest role first, so that an allowed call (a revoke, a replay) happens last.
    for role in RANK:
        answer = client.open(path, method=method, json=body, headers=headers[role])
        text = f"{role}: {answer.get_data(as_text=True)}"
        if role == "anonymous":
            assert answer.status_code == 401, text
            assert answer.mimetype == "application/problem+json"
        elif RANK[role] < RANK[least]:
            assert answer.status_code == 403, text
            assert f"needs the {least} role" in answer.json["detail"]
        else:
            assert answer.status_code == allowed, text


def test_configured_api_token_acts_as_admin(crm_client: Any) -> None:
    _, client = crm_client
    auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
    assert client.get("/api/v1/admin/tokens", headers=auth).status_code == 200
    created = client.post("/api/v1/admin/tokens", json={"role": "viewer"}, headers=auth)
    assert created.status_code == 201
    audit = client.get("/api/v1/admin/audit?action=token.create", headers=auth).json
    assert audit["results"][0]["actor"] == "config:api.tokens[0]"


def test_revoked_and_unknown_tokens_are_refused(crm_client: Any) -> None:
    _, client = crm_client
    auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
    created = client.post("/api/v1/admin/tokens", json={"role": "operator"}, headers=auth).json
    mine = {"Authorization": f"Bearer {created['token']}"}
    assert client.get("/api/v1/admin/inbox", headers=mine).status_code == 200
    assert client.delete(f"/api/v1/admin/tokens/{created['id']}", headers=auth).status_code == 200
    assert client.get("/api/v1/admin/inbox", headers=mine).status_code == 401
    wrong = {"Authorization": "Bearer tl_" + "x" * 43}
    assert client.get("/api/v1/admin/inbox", headers=wrong).status_code == 401
    basic = {"Authorization": f"Basic {created['token']}"}
    assert client.get("/api/v1/admin/inbox", headers=basic).status_code == 401
