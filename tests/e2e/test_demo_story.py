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
