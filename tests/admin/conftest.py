"""Fixtures for the operations tests: an app with the dashboard on, and a stored
token per role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ops_helpers import SESSION_SECRET

from hub.runtime import Runtime
from hub.store.db import transaction
from hub.tokens import ROLES, create_token


@pytest.fixture
def ops_runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime(admin={"session_secret": SESSION_SECRET, "refresh_seconds": 0})


@pytest.fixture
def ops_app(ops_runtime: Runtime) -> Any:
    from hub.app import create_app

    return create_app(runtime=ops_runtime)


@pytest.fixture
def ops_client(ops_app: Any) -> Any:
    return ops_app.test_client()


@pytest.fixture
def role_headers(ops_runtime: Runtime) -> dict[str, dict[str, str]]:
    """``Authorization`` headers for a stored token of each role, and none."""
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with transaction(ops_runtime.sessions) as session:
        for role in ROLES:
            _, token = create_token(session, role=role, name=f"{role}-bot", actor="test")
            headers[role] = {"Authorization": f"Bearer {token}"}
    return headers
