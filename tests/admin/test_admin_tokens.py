"""Given stored tokens, then only their hash is kept, the token is shown once, roles
rank viewer < operator < admin, and the CLI bootstraps the first admin."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from helpers.config import base_config
from sqlalchemy import select

from hub.cli import main
from hub.runtime import Runtime
from hub.store.models import ApiToken, AuditEntry
from hub.tokens import Principal, hash_token


def test_token_is_returned_once_and_only_its_hash_is_stored(
    ops_client: Any, role_headers: dict[str, dict[str, str]], ops_runtime: Runtime
) -> None:
    created = ops_client.post(
        "/api/v1/admin/tokens",
        json={"role": "operator", "name": "ops"},
        headers=role_headers["admin"],
    )
    assert created.status_code == 201
    token = created.json["token"]
    assert token.startswith("tl_")
    assert len(token) >= 40
    with ops_runtime.read_sessions() as session:
        row = session.get(ApiToken, created.json["id"])
        assert row is not None
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in {row.token_hash, row.prefix, row.name}
    listed = ops_client.get("/api/v1/admin/tokens", headers=role_headers["admin"]).json
    assert all("token" not in item for item in listed["results"])
    assert {"ops"} <= {item["name"] for item in listed["results"]}


def test_roles_rank_viewer_operator_admin() -> None:
    viewer, operator, admin = (Principal("x", r) for r in ("viewer", "operator", "admin"))
    assert viewer.can("viewer")
    assert not viewer.can("operator")
    assert operator.can("operator")
    assert not operator.can("admin")
    assert admin.can("viewer")
    assert admin.can("admin")


def test_create_token_rejects_unknown_role(
    ops_client: Any, role_headers: dict[str, dict[str, str]]
) -> None:
    answer = ops_client.post(
        "/api/v1/admin/tokens", json={"role": "root"}, headers=role_headers["admin"]
    )
    assert answer.status_code == 400
    assert "viewer, operator, admin" in answer.json["detail"]


def test_read_api_accepts_a_viewer_token_and_refuses_none(
    ops_client: Any, role_headers: dict[str, dict[str, str]]
) -> None:
    lookup = "/api/v1/contacts?email=nobody@example.com"
    assert ops_client.get(lookup, headers=role_headers["viewer"]).status_code == 404
    assert ops_client.get(lookup).status_code == 401


def test_token_use_is_recorded(
    ops_client: Any, role_headers: dict[str, dict[str, str]], ops_runtime: Runtime
) -> None:
    ops_client.get("/api/v1/admin/inbox", headers=role_headers["viewer"])
    with ops_runtime.read_sessions() as session:
        viewer = session.scalar(select(ApiToken).where(ApiToken.role == "viewer"))
        assert viewer is not None
        assert viewer.last_used_at is not None


def test_cli_bootstraps_lists_and_revokes_tokens(
    database_url: str, make_runtime: Any, tmp_path: Path, capsys: Any
) -> None:
    runtime = make_runtime(api={"tokens": []})
    config = tmp_path / "c.json"
    config.write_text(json.dumps(base_config(database_url, api={"tokens": []})))
    assert (
        main(
            [
                "--config",
                str(config),
                "tokens",
                "create",
                "--role",
                "admin",
                "--name",
                "first-admin",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.strip().splitlines()
    token = out[-1]
    assert "shown only now" in out[0]
    assert token.startswith("tl_")
    from hub.app import create_app

    client = create_app(runtime=runtime).test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/admin/tokens", headers=auth).status_code == 200
    assert main(["--config", str(config), "tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert "admin\tfirst-admin" in listing
    assert token not in listing
    assert main(["--config", str(config), "tokens", "revoke", "1"]) == 0
    assert client.get("/api/v1/admin/tokens", headers=auth).status_code == 401
    with runtime.read_sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        stored = session.scalar(select(ApiToken.token_hash))
    assert actions == ["token.create", "token.revoke"]
    assert stored == hash_token(token)


def test_no_token_is_configured_by_default_so_nothing_gets_in(make_runtime: Any) -> None:
    from hub.app import create_app

    client = create_app(runtime=make_runtime(api={"tokens": []})).test_client()
    for path in ("/api/v1/admin/overview", "/api/v1/contacts?email=a@b.co"):
        assert client.get(path).status_code == 401
        assert client.get(path, headers={"Authorization": "Bearer "}).status_code == 401
