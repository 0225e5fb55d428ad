"""Given a signed webhook, when the plain WSGI route in front of Flask answers it
(``hub.intake.FastPath``), then the answer is the one the Flask route gives: same status,
headers, body, log line and stored rows, for every outcome; and whatever is not a POST
to a declared storing endpoint with a Content-Length within the limit goes to Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from flask import Flask
from helpers.driver_hooks import on_intake_statement
from helpers.flow import request_line
from helpers.signing import contact_event, signed
from sqlalchemy import func, select

from hub.app import create_app
from hub.intake import INTAKE, FastPath
from hub.runtime import Runtime
from hub.store.models import InboxEvent, RawDelivery

Post = Callable[..., Any]


def flask_only(runtime: Runtime) -> Flask:
    """The same app with the plain route taken out: every request goes through Flask."""
    app = create_app(runtime=runtime)
    assert isinstance(app.wsgi_app, FastPath)
    app.wsgi_app = partial(Flask.wsgi_app, app)  # type: ignore[method-assign]
    return app


@pytest.fixture
def apps(runtime: Runtime) -> dict[str, Flask]:
    return {"fast": create_app(runtime=runtime), "flask": flask_only(runtime)}


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.read_sessions() as session:
        events = session.scalar(select(func.count()).select_from(InboxEvent)) or 0
        raws = session.scalar(select(func.count()).select_from(RawDelivery)) or 0
        return int(events), int(raws)


def answer(app: Flask, body: bytes, headers: dict[str, str], path: str = "/webhooks/events") -> Any:
    response = app.test_client().post(path, data=body, headers=headers)
    kept = {k: v for k, v in response.headers.items() if k != "X-Request-Id"}
    return response.status_code, kept, response.get_data(), "X-Request-Id" in response.headers


def both(apps: dict[str, Flask], runtime: Runtime, make: Callable[[str], Any]) -> list[Any]:
    """Send the request ``make(path_name)`` builds through each route; return what each
    answered and what each stored (fresh idempotency keys per route)."""
    seen = []
    for name, app in apps.items():
        before = counts(runtime)
        got = answer(app, *make(name))
        after = counts(runtime)
        seen.append((got, (after[0] - before[0], after[1] - before[1])))
    return seen


CASES: dict[str, Callable[[str], Any]] = {
    "stored": lambda n: signed(contact_event(f"c-{n}")),
    "bad_signature": lambda n: (
        signed(contact_event())[0],
        {**signed(contact_event())[1], "webhook-signature": "v1,bm9wZQ=="},
    ),
    "missing_header": lambda n: (
        signed(contact_event())[0],
        {k: v for k, v in signed(contact_event())[1].items() if k != "webhook-id"},
    ),
    "not_json": lambda n: signed(b"not json"),
    "bad_shape": lambda n: signed({"type": "contact.updated", "data": {"id": ""}}),
    "caller_request_id": lambda n: (
        signed(contact_event(f"r-{n}"))[0],
        {**signed(contact_event(f"r-{n}"))[1], "X-Request-Id": "abc-123"},
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_the_plain_route_answers_as_the_flask_route_does(
    apps: dict[str, Flask], runtime: Runtime, case: str
) -> None:
    fast, slow = both(apps, runtime, CASES[case])
    assert fast == slow


def test_a_duplicate_is_acknowledged_alike_on_both_routes(
    apps: dict[str, Flask], runtime: Runtime
) -> None:
    body, headers = signed(contact_event("c-dup"), msg_id="msg_dup")
    first = answer(apps["fast"], body, headers)
    again = [answer(app, body, headers) for app in apps.values()]
    assert first[0] == 200
    assert again[0] == again[1]
    assert b'"duplicates": 1' in again[0][2]


def test_the_request_id_a_caller_gives_is_echoed_by_the_plain_route(
    apps: dict[str, Flask],
) -> None:
    body, headers = signed(contact_event("c-rid"))
    response = (
        apps["fast"]
        .test_client()
        .post("/webhooks/events", data=body, headers={**headers, "X-Request-Id": "abc-123"})
    )
    assert response.headers["X-Request-Id"] == "abc-123"


@pytest.fixture
def store_fails(runtime: Runtime) -> Iterator[dict[str, Any]]:
    """Make the next intake INSERTs fail as the store would (``error`` names how)."""
    state: dict[str, Any] = {"error": None}

    def hook(dbapi: Any, statement: str, _parameters: Any) -> None:
        if state["error"] and "INSERT INTO inbox_events" in statement:
            raise getattr(dbapi, state["error"])("injected")

    with on_intake_statement(hook):
        yield state


@pytest.mark.parametrize("error", ["OperationalError", "DataError", "ProgrammingError"])
def test_store_failures_are_answered_alike_on_both_routes(
    apps: dict[str, Flask], runtime: Runtime, store_fails: dict[str, Any], error: str
) -> None:
    store_fails["error"] = error
    fast, slow = both(apps, runtime, lambda n: signed(contact_event(f"f-{n}")))
    assert fast == slow
    assert fast[0][0] in (400, 503)
    assert fast[1] == (0, 0)


def test_an_unexpected_error_is_the_app_handlers_500_on_both_routes(
    apps: dict[str, Flask], runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    for app in apps.values():
        endpoint = app.extensions[INTAKE].endpoint(runtime.connectors["events"], "events", "")

        def broken(_raw: Any) -> Any:
            raise RuntimeError("a bug")

        monkeypatch.setattr(endpoint, "parse", broken)
    fast, slow = both(apps, runtime, lambda n: signed(contact_event(f"u-{n}")))
    assert fast == slow
    assert fast[0][0] == 500


def test_the_plain_route_logs_the_request_line_flask_would(
    apps: dict[str, Flask], caplog: pytest.LogCaptureFixture
) -> None:

    def send(app: Flask) -> None:
        body, headers = signed(contact_event())
        app.test_client().post("/webhooks/events", data=body, headers=headers)

    lines = [request_line(caplog, partial(send, app)) for app in apps.values()]
    assert (
        lines[0]
        == lines[1]
        == {
            "method": "POST",
            "path": "/webhooks/events",
            "endpoint": "intake.receive",
            "status": 200,
        }
    )


def counted(app: Flask) -> list[int]:
    """A list that grows by one for each request Flask dispatches."""
    seen: list[int] = []

    def count() -> None:
        seen.append(1)

    app.before_request(count)
    return seen


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        ("GET", "/webhooks/events", {}),
        ("PUT", "/webhooks/events", {}),
        ("POST", "/webhooks/nobody", {}),
        ("POST", "/webhooks/events/", {}),
        ("POST", "/webhooks/events/x/y", {}),
        ("POST", "/webhooks//events", {}),
        ("POST", "/webhooks/events", {"Transfer-Encoding": "chunked"}),
    ],
    ids=["get", "put", "unknown", "trailing_slash", "below", "double_slash", "chunked"],
)
def test_what_the_plain_route_does_not_answer_goes_to_flask(
    apps: dict[str, Flask], method: str, path: str, extra: dict[str, str]
) -> None:
    app = apps["fast"]
    through_flask = counted(app)
    body, headers = signed(contact_event())
    app.test_client().open(path, method=method, data=body, headers={**headers, **extra})
    assert through_flask == [1]


def test_a_signed_post_skips_flask(apps: dict[str, Flask]) -> None:
    app = apps["fast"]
    through_flask = counted(app)
    body, headers = signed(contact_event())
    assert app.test_client().post("/webhooks/events", data=body, headers=headers).status_code == 200
    assert through_flask == []


def test_with_trusted_hosts_configured_flask_checks_the_host(runtime: Runtime) -> None:
    from hub.app import error_response, finish_response, request_id

    app = flask_only(runtime)
    app.config["TRUSTED_HOSTS"] = ["hub.example"]
    app.wsgi_app = FastPath(  # type: ignore[method-assign]
        app, request_id=request_id, finish=finish_response, on_error=error_response
    )
    body, headers = signed(contact_event())
    response = app.test_client().post("/webhooks/events", data=body, headers=headers)
    assert response.status_code == 400  # localhost is not a trusted host
