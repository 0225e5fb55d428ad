"""A `threadline scheduler` process with the operations tests' slow CRM registered.

Usage: python tests/admin/ops_scheduler_proc.py CONFIG.json
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1]), str(HERE.parent), str(HERE)]

from ops_helpers import OpsConnector  # noqa: E402

from hub.cli import main  # noqa: E402
from hub.registry import register_connector_type  # noqa: E402

if __name__ == "__main__":
    register_connector_type(OpsConnector)
    raise SystemExit(main(["--config", sys.argv[1], "scheduler"]))
