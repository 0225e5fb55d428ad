"""``identity simulate`` replays stored records under proposed rules, reports the
merges and splits that would change, and writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from identity_helpers import apply, contact_of, person, store_state, two_sources

from hub.cli import main
from hub.identity.rules import IdentityRules
from hub.identity.simulate import simulate


def seed(runtime: Any) -> None:
    apply(
        runtime, person("a", "Ann", "Acme", emails=["ann@acme.example"], phones=["+1 415 555 0142"])
    )
    apply(runtime, person("b", "Ann", "Acme", 5, emails=["ann@acme.example"]), connector="crm")
    apply(runtime, person("c", "Ann", "Acme", 6, phones=["+1 415 555 0142"]), connector="desk")


def test_blocking_a_value_reports_the_splits_and_changes_nothing(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    seed(runtime)
    assert len({contact_of(runtime, r) for r in "abc"}) == 1
    before = store_state(runtime)
    proposed = IdentityRules(block={"email": ["ann@acme.example"]})
    report = simulate(runtime.sessions, runtime.settings.hub.identity, proposed)
    assert (report["records"], report["contacts_before"], report["contacts_after"]) == (3, 1, 2)
    assert (report["merges"], report["splits"]) == (0, 1)
    assert report["split_examples"] == [["crm:contact:b", "desk:contact:c", "events:contact:a"]]
    assert store_state(runtime) == before


def test_loosening_a_limit_reports_merges(make_runtime: Any) -> None:
    runtime = two_sources(make_runtime)
    apply(
        runtime,
        person("a", "Ann", "Acme", emails=["ann@acme.example"]),
        person("b", "Ann", "Acme", 1, emails=["ann@acme.example"]),
    )
    assert contact_of(runtime, "a") != contact_of(runtime, "b")
    proposed = IdentityRules(limits={"record:*": 2})
    report = simulate(runtime.sessions, runtime.settings.hub.identity, proposed)
    assert (report["merges"], report["splits"], report["contacts_after"]) == (1, 0, 1)


def test_cli_simulate_reads_a_rules_file(
    make_runtime: Any, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers.config import TEST_SECRET, base_config

    runtime = two_sources(make_runtime)
    seed(runtime)
    connectors = [
        {"name": n, "type": "standard_webhooks", "settings": {"secret": TEST_SECRET}}
        for n in ("events", "crm", "desk")
    ]
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(base_config(runtime.engine.url.render_as_string(False), connectors=connectors))
    )
    rules = tmp_path / "rules.yaml"
    rules.write_text("hub:\n  identity:\n    block: {phone: ['+14155550142']}\n")
    assert main(["--config", str(config), "identity", "simulate", "--rules", str(rules)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["splits"], report["contacts_after"]) == (1, 2)
    rules.write_text("hub:\n  identity:\n    priority: [fax]\n")
    assert main(["--config", str(config), "identity", "simulate", "--rules", str(rules)]) == 2
