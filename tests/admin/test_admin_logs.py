"""Given a realistic run (contact and call events, processing, a pop, admin actions
through the API and the dashboard, a scrape), then every log line is JSON, every
HTTP request is logged with its request id, and no line holds a secret, a token, or
a raw phone number or e-mail address."""

from __future__ import annotations

import json
import re
from typing import Any

from helpers.config import TEST_SECRET, TEST_TOKEN
from helpers.flow import drain, post
from helpers.signing import contact_event, interaction_event
from ops_helpers import SESSION_SECRET

from hub.app import create_app
from hub.delivery import DeliveryWorker
from hub.logging_setup import configure_logging


def test_full_run_logs_request_ids_and_no_secret_or_personal_data(
    make_runtime: Any, capsys: Any
) -> None:
    configure_logging("DEBUG", "json")
    runtime = make_runtime(admin={"session_secret": SESSION_SECRET})
    client = create_app(runtime=runtime).test_client()
    admin = {"Authorization": f"Bearer {TEST_TOKEN}"}
    assert post(client, contact_event("c-1")).status_code == 200
    assert post(client, interaction_event("call-1")).status_code == 200
    drain(runtime)
    DeliveryWorker(runtime, "w").run_once()
    created = client.post(
        "/api/v1/admin/tokens", json={"role": "operator", "name": "ops"}, headers=admin
    ).json
    operator = {"Authorization": f"Bearer {created['token']}", "X-Request-Id": "req-abc.123"}
    echoed = client.get("/api/v1/contacts?phone=(415) 555-0142", headers=operator)
    assert echoed.headers["X-Request-Id"] == "req-abc.123"
    client.get("/api/v1/context?email=Ada@Example.com", headers=operator)
    client.post("/api/v1/admin/inbox/replay", json={"status": "dead"}, headers=operator)
    client.get("/api/v1/admin/candidates", headers=operator)
    client.get("/api/v1/contacts", headers={"Authorization": "Bearer tl_wrong-token-value"})
    login = client.get("/admin/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', login)
    assert csrf
    client.post("/admin/login", data={"token": "tl_guessed-" + "x" * 30, "csrf": csrf.group(1)})
    client.post("/admin/login", data={"token": created["token"], "csrf": csrf.group(1)})
    client.get("/admin/contacts?q=ada@example.com")
    client.get("/metrics")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    requests_logged = [r for r in records if r["event"] == "http.request"]
    assert len(requests_logged) >= 12
    assert all(re.fullmatch(r"[A-Za-z0-9._:-]+", r["request_id"]) for r in requests_logged)
    assert "req-abc.123" in {r["request_id"] for r in requests_logged}
    assert any(r["event"] == "admin.sign_in_refused" for r in records)
    forbidden = [
        TEST_SECRET,
        TEST_SECRET.removeprefix("whsec_"),
        TEST_TOKEN,
        created["token"],
        SESSION_SECRET,
        "tl_guessed",
        "tl_wrong-token-value",
        "Ada@Example.com",
        "ada@example.com",
        "4155550142",
        "415) 555-0142",
        "415 555 0142",
        "555-0142",
    ]
    text = "\n".join(lines)
    for value in forbidden:
        assert value not in text, f"{value!r} reached the logs"
