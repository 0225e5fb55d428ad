"""A worker process for the SIGKILL test: a slow connector so a batch is caught mid-way.

Usage: python tests/helpers/slow_worker.py CONFIG.json WORKER_ID
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from connectors.standard_webhooks.connector import StandardWebhooksConnector
from hub.plugin import InboundEvent
from hub.registry import register_connector_type
from hub.runtime import Runtime
from hub.settings import settings_from_dict
from hub.worker import Worker


class SlowConnector(StandardWebhooksConnector):
    """standard_webhooks, 10 ms per event: a 50-event batch takes half a second."""

    type_name = "slow_test"

    def interpret(self, event: InboundEvent) -> Any:
        time.sleep(0.01)
        return super().interpret(event)


def main() -> None:
    register_connector_type(SlowConnector)
    config = json.loads(Path(sys.argv[1]).read_text())
    runtime = Runtime.build(settings_from_dict(config, env={}))
    Worker(runtime, worker_id=sys.argv[2]).run_forever(threading.Event())


if __name__ == "__main__":
    main()
