"""The `threadline` command: config check, db upgrade, inbox list/replay, and the
all-in-one `serve` process taking a signed event end to end."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from helpers.config import REPO, TEST_SECRET, TEST_TOKEN, base_config
from helpers.flow import drain, post
from helpers.signing import contact_event, signed
from sqlalchemy import update

from connectors.standard_webhooks.connector import StandardWebhooksConnector
from hub.app import create_app
from hub.cli import main
from hub.plugin import InboundEvent
from hub.registry import register_connector_type
from hub.store.db import transaction
from hub.store.models import InboxEvent


def write_config(tmp_path: Path, database_url: str) -> Path:
    path = tmp_path / "threadline.yaml"
    path.write_text(json.dumps(base_config(database_url)))  # JSON is YAML
    return path


def test_db_upgrade_creates_the_schema_on_an_empty_store(tmp_path: Path, capsys: Any) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    config = write_config(tmp_path, url)
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    from hub.store.migrate import head_revision

    assert f"store at revision {head_revision()}" in capsys.readouterr().out
    assert main(["--config", str(config), "db", "upgrade"]) == 0  # idempotent


def test_inbox_list_and_replay_of_dead_events(
    database_url: str, make_runtime: Any, tmp_path: Path, capsys: Any
) -> None:
    runtime = make_runtime()
    post(create_app(runtime=runtime).test_client(), contact_event())
    drain(runtime)
    with transaction(runtime.sessions) as session:
        session.execute(update(InboxEvent).values(status="dead", last_error="x"))
    config = str(write_config(tmp_path, database_url))
    assert main(["--config", config, "inbox", "list", "--status", "dead"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[0]) == {"counts": {"dead": 1}}
    assert json.loads(lines[1])["status"] == "dead"
    assert main(["--config", config, "inbox", "replay", "--all-dead"]) == 0
    assert "replayed 1 event(s)" in capsys.readouterr().out
    assert drain(runtime) == 1


def test_config_check_reports_file_and_key_and_exits_2(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("hub:\n  worker:\n    batch_size: 0\nconnectors:\n  - name: x\n    type: nope\n")
    assert main(["--config", str(bad), "config", "check"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: hub.worker.batch_size" in err
    assert "connectors[0](name=x).type: no connector type named 'nope'" in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_serve_takes_a_signed_event_to_the_read_api(database_url: str, tmp_path: Path) -> None:
    config = write_config(tmp_path, database_url)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "hub.cli", "--config", str(config)]
    process = subprocess.Popen(
        [*cli, "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "serve did not become ready"
            time.sleep(0.1)
        event = json.dumps(contact_event("crm-1", phones=["+44 20 7946 0958"]))
        sent = subprocess.run(
            [*cli, "webhook", "send", "events", event, "--url", base],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        auth = {"Authorization": f"Bearer {TEST_TOKEN}"}
        for _ in range(100):  # the worker thread processes it within its poll interval
            found = requests.get(
                f"{base}/api/v1/contacts",
                params={"phone": "00442079460958"},
                headers=auth,
                timeout=5,
            )
            if found.status_code == 200:
                break
            time.sleep(0.05)
        assert found.status_code == 200
        assert found.json()["results"][0]["identities"][0]["external_id"] == "crm-1"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def wait_ready(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, "the process exited"
        try:
            if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # gunicorn binds the port before its workers have imported the app
        assert time.monotonic() < deadline, "not ready in time"
        time.sleep(0.1)


@pytest.mark.slow
def test_web_role_under_gunicorn_stores_events_for_a_separate_worker(
    database_url: str, tmp_path: Path, make_runtime: Any
) -> None:
    config = write_config(tmp_path, database_url)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "hub.cli", "--config", str(config)]
    web = subprocess.Popen(
        [*cli, "web", "--port", str(port), "--workers", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, web)
        body, headers = signed(contact_event("g-1"))
        answer = requests.post(f"{base}/webhooks/events", data=body, headers=headers, timeout=5)
        assert answer.json() == {"accepted": 1, "duplicates": 0}
        worker = subprocess.run(
            [*cli, "worker", "--once"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert worker.stdout.strip() == "processed 1 event(s)", worker.stderr
        found = requests.get(
            f"{base}/api/v1/contacts",
            params={"connector": "events", "object_type": "contact", "id": "g-1"},
            headers={"Authorization": f"Bearer {TEST_TOKEN}"},
            timeout=5,
        )
        assert found.status_code == 200
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=20)


class FlakyConnector(StandardWebhooksConnector):
    type_name = "flaky_test"
    object_types = ()

    def interpret(self, event: InboundEvent) -> Any:
        raise TimeoutError("crm timed out")


def test_secret_is_never_logged(make_runtime: Any, caplog: Any) -> None:
    register_connector_type(FlakyConnector)
    runtime = make_runtime(
        connectors=[{"name": "events", "type": "flaky_test", "settings": {"secret": TEST_SECRET}}]
    )
    post(create_app(runtime=runtime).test_client(), contact_event())
    drain(runtime)
    assert "worker.event_failed" in caplog.text
    assert TEST_SECRET not in caplog.text
    assert "ada@example.com" not in caplog.text.lower()
