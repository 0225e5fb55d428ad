"""`threadline demo --check`: the whole story, unattended, as `make demo` plays it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.config import REPO


def test_demo_story_delivers_every_pop_with_the_chat_in_context(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "THREADLINE_CONFIG": "config/demo.yaml",
        "THREADLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--port", "0", "--check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Every pop arrived." in done.stdout
    for line in (
        "pop delivered to sf:salesforce_pop",
        "pop delivered to hs:hubspot_pop",
        "pop delivered to panel",
        "the call's context holds the WhatsApp chat",
        "one contact across Salesforce and HubSpot",
    ):
        assert f"[ok] {line}" in done.stdout


def test_demo_run_logs_no_secret_and_no_raw_phone_or_email(tmp_path: Path) -> None:
    """Every log line of a whole demo run, at INFO: personal data and secrets are masked."""
    config = (REPO / "config/demo.yaml").read_text().replace("level: WARNING", "level: DEBUG")
    (tmp_path / "demo.yaml").write_text(config)
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "THREADLINE_CONFIG": str(tmp_path / "demo.yaml"),
        "THREADLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--port", "0", "--check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    logs = done.stderr
    assert logs.count("\n") > 20, "the run logged (at DEBUG) what it did"
    for secret in (
        "sandbox-password",
        "SANDBOXTOKEN0123456789",
        "demo-twilio-auth-token",
        "demo-whatsapp-app-secret",
        "pat-na1-00000000-0000-4000-8000-000000000000",
        "demo-token-0123456789",
    ):
        assert secret not in logs
    for personal in (
        "ada.lovelace@example.com",
        "4155550142",
        "415) 555-0142",
        "415-555-0142",
        "order 1234",
    ):
        assert personal not in logs
