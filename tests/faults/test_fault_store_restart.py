"""Given a hub on its own PostgreSQL under a stream of signed webhooks, when that server
is stopped and started again mid-intake, then intake answers 503 (never 500, never a
false 200) while it is down, and once it is back every acknowledged event is stored and
processed exactly once.

The cluster is a private one (initdb + pg_ctl in a temp dir on a free port): the shared
server the rest of the suite uses is never stopped.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest
from fault_helpers import HubProcess, Sender, private_postgres, wait_for
from helpers.config import base_config
from helpers.flow import AUTH
from sqlalchemy import func, select

from hub.runtime import Runtime
from hub.settings import settings_from_dict
from hub.store.db import make_engine
from hub.store.migrate import upgrade
from hub.store.models import InboxEvent, Interaction, Pop, SourceRecord

TOTAL = 300
PG_URL = os.environ.get("THREADLINE_TEST_DATABASE_URL", "")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.db,
    pytest.mark.skipif(
        not PG_URL,
        reason="PostgreSQL only: the SQLite run has no database server to restart "
        "(set THREADLINE_TEST_DATABASE_URL, as `make test-postgres` does)",
    ),
]


def count(runtime: Runtime, model: Any, *where: Any) -> int:
    with runtime.read_sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_postgres_restarted_mid_intake_answers_503_then_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with private_postgres() as cluster:
        engine = make_engine(cluster.url)
        upgrade(engine)
        engine.dispose()
        config = base_config(cluster.url)
        config["logging"] = {"level": "ERROR", "format": "json"}
        config["hub"]["scheduler_enabled"] = False
        config["hub"]["worker"]["lease_seconds"] = 2
        hub = HubProcess(config, tmp_path)
        hub.start()
        sender = Sender(f"{hub.url}/webhooks/events", TOTAL, threads=4).start()
        try:
            wait_for(lambda: len(sender.acked_snapshot()) >= TOTAL // 4, 30, "load under way")
            cluster.stop("fast")
            acked_while_up = len(sender.acked_snapshot())
            wait_for(lambda: sender.count("503") >= 10, 15, "intake answering 503")
            time.sleep(0.5)  # intake keeps refusing while the store is down
            assert len(sender.acked_snapshot()) == acked_while_up, "acknowledged with no store"
            readiness = hub_ready(hub.url)
            lookup_while_down = context_lookup(hub.url)
            cluster.start()
            sender.join(timeout=60)
            lookups_after = [context_lookup(hub.url) for _ in range(3)]
            runtime = Runtime.build(settings_from_dict(base_config(cluster.url), env={}))
            try:
                wait_for(
                    lambda: count(runtime, InboxEvent, InboxEvent.status == "done") == TOTAL,
                    40,
                    "every event processed after the restart",
                )
                with runtime.read_sessions() as session:
                    keys = session.scalars(select(InboxEvent.idempotency_key)).all()
                assert sorted(keys) == sorted(f"evt-{i}" for i in range(TOTAL))
                assert count(runtime, SourceRecord, SourceRecord.object_type == "contact") == (
                    TOTAL // 2
                )
                assert count(runtime, Interaction) == TOTAL // 2
                assert count(runtime, Pop) == TOTAL // 2
            finally:
                runtime.close()
        finally:
            hub.stop()
    assert readiness == 503
    assert lookup_while_down == 503  # the context API too: "retry", not a stack trace
    assert lookups_after == [200, 200, 200]
    unexpected = {s for s in sender.statuses if s not in {"200", "503"}}
    assert not unexpected, f"intake answered {sender.statuses}"


def context_lookup(url: str) -> int:
    """The context API's answer for a caller of the load (event_for)."""
    import requests

    return requests.get(
        f"{url}/api/v1/context", params={"phone": "+14155560001"}, headers=AUTH, timeout=5
    ).status_code


def hub_ready(url: str) -> int:
    import requests

    return requests.get(f"{url}/readyz", timeout=5).status_code
