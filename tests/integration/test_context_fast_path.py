"""Given a context lookup, when the plain WSGI route in front of Flask answers it
(``hub.api.context.ContextFastPath``), then the answer is the one the Flask route gives:
same status, headers, body and log line, for every outcome; and every other request to
the API goes to Flask."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from flask import Flask
from helpers.flow import AUTH, drain, post, request_line
from helpers.signing import contact_event, interaction_event

from hub.api.context import ContextFastPath
from hub.app import create_app
from hub.intake import FastPath
from hub.runtime import Runtime


def flask_only(runtime: Runtime) -> Flask:
    """The same app with both plain routes taken out: every request goes through Flask."""
    app = create_app(runtime=runtime)
    assert isinstance(app.wsgi_app, FastPath)
    assert isinstance(app.wsgi_app._flask, ContextFastPath)
    app.wsgi_app = partial(Flask.wsgi_app, app)  # type: ignore[method-assign]
    return app


@pytest.fixture
def apps(client: Any, runtime: Runtime) -> dict[str, Flask]:
    post(client, contact_event("c-1"))
    post(client, interaction_event("call-1"))
    drain(runtime)
    return {"fast": create_app(runtime=runtime), "flask": flask_only(runtime)}


def answer(app: Flask, query: str, headers: dict[str, str], method: str = "GET") -> Any:
    response = app.test_client().open(f"/api/v1/context{query}", method=method, headers=headers)
    kept = {k: v for k, v in response.headers.items() if k != "X-Request-Id"}
    return response.status_code, kept, response.get_data(), response.headers.get("X-Request-Id")


CASES = {
    "known_phone": ("?phone=(415) 555-0142", AUTH, 200),
    "known_email": ("?email=ADA@example.com", AUTH, 200),
    "unknown": ("?phone=%2B442079460999", AUTH, 404),
    "bad_query": ("?phone=abc", AUTH, 400),
    "nothing_asked": ("", AUTH, 400),
    "no_token": ("?phone=(415) 555-0142", {}, 401),
    "wrong_token": ("?phone=(415) 555-0142", {"Authorization": "Bearer nope"}, 401),
    "caller_request_id": ("?phone=(415) 555-0142", {**AUTH, "X-Request-Id": "abc-123"}, 200),
}


@pytest.mark.parametrize("case", CASES)
def test_the_plain_route_answers_as_the_flask_route_does(apps: dict[str, Flask], case: str) -> None:
    query, headers, status = CASES[case]
    fast, slow = (answer(app, query, headers) for app in apps.values())
    assert fast[:3] == slow[:3]
    assert fast[0] == status
    assert fast[3]
    assert slow[3]
    if "X-Request-Id" in headers:
        assert fast[3] == slow[3] == "abc-123"


def test_a_store_failure_is_the_same_503_on_both_routes(
    apps: dict[str, Flask], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(runtime.engine, "raw_connection", down)
    fast, slow = (answer(app, "?phone=(415) 555-0142", AUTH) for app in apps.values())
    assert fast[:3] == slow[:3]
    assert fast[0] == 503


def test_the_plain_route_logs_the_request_line_flask_would(
    apps: dict[str, Flask], caplog: pytest.LogCaptureFixture
) -> None:
    lines = [
        request_line(caplog, partial(answer, app, "?phone=(415) 555-0142", AUTH))
        for app in apps.values()
    ]
    expected = {
        "method": "GET",
        "path": "/api/v1/context",
        "endpoint": "context_api.get_context",
        "status": 200,
    }
    assert lines[0] == lines[1] == expected


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/context"), ("HEAD", "/api/v1/context"), ("GET", "/api/v1/context/")],
    ids=["post", "head", "trailing_slash"],
)
def test_other_requests_go_to_flask(apps: dict[str, Flask], method: str, path: str) -> None:
    app = apps["fast"]
    dispatched: list[str] = []

    def seen() -> None:
        dispatched.append(method)

    app.before_request(seen)
    app.test_client().open(path, method=method, headers=AUTH)
    assert dispatched == [method]
    dispatched.clear()
    app.test_client().get("/api/v1/context?phone=(415) 555-0142", headers=AUTH)
    assert dispatched == []  # the lookup itself never reaches Flask
