"""`threadline connectors list|test`: configured instances with what they can do, and
a check that says what is wrong in plain words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers.config import base_config
from ops_helpers import crm_instance, events_instance

from hub.cli import main


def write(tmp_path: Path, database_url: str, **crm: Any) -> str:
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(base_config(database_url, connectors=[events_instance(), crm_instance(**crm)]))
    )
    return str(path)


def test_list_shows_configured_instances_capabilities_and_schedules(
    database_url: str, tmp_path: Path, capsys: Any
) -> None:
    assert main(["--config", write(tmp_path, database_url), "connectors", "list"]) == 0
    out = capsys.readouterr().out
    assert "  events (standard_webhooks): webhooks: /" in out
    assert "  crm (ops_test): streams: people" in out
    assert "    scheduled: people every 60s" in out
    assert "registered types:" in out
    assert "  salesforce: " in out


def test_test_reports_success_and_failure_in_plain_words(
    database_url: str, tmp_path: Path, capsys: Any
) -> None:
    ok = write(tmp_path, database_url)
    assert main(["--config", ok, "connectors", "test", "crm"]) == 0
    assert "crm (ops_test): OK: signed in; 1 stream readable" in capsys.readouterr().out
    bad = write(tmp_path, database_url, reachable=False)
    assert main(["--config", bad, "connectors", "test", "crm"]) == 1
    assert (
        "crm (ops_test): FAILED: crm.example.com refused the credentials (HTTP 401): "
        "check the client secret"
    ) in capsys.readouterr().out
    with pytest.raises(SystemExit, match=r"no connector named 'nope' \(configured: crm, events\)"):
        main(["--config", ok, "connectors", "test", "nope"])
