"""The configuration every store test starts from (a dict, as the YAML file would be)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TEST_TOKEN = "test-api-token-0123456789"


def base_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "hub": {
            "database_url": database_url,
            "mappings_dir": str(REPO / "mappings"),
            "worker": {
                "batch_size": 50,
                "lease_seconds": 30,
                "max_attempts": 3,
                "backoff_base_seconds": 0.01,
                "backoff_max_seconds": 0.05,
                "poll_interval_seconds": 0.05,
            },
        },
        "api": {"tokens": [TEST_TOKEN]},
        "connectors": [
            {"name": "events", "type": "standard_webhooks", "settings": {"secret": TEST_SECRET}},
        ],
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config
