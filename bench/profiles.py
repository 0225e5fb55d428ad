"""cProfile the hot paths and summarise them: where the time goes, by function."""

from __future__ import annotations

import cProfile
import json
import pstats
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import REPO, SECRET, hub_config

OWN = ("/hub/", "/connectors/", "/webhooks/")


def summarise(profile: cProfile.Profile | str, top: int = 12) -> dict[str, Any]:
    stats = pstats.Stats(profile)
    rows = []
    for (path, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = path.replace(str(REPO) + "/", "")
        if "site-packages/" in short:
            short = short.split("site-packages/", 1)[1]
        own = any(part in path for part in OWN) and "site-packages" not in path
        rows.append({"function": f"{short}:{line}({name})", "calls": ncalls,
                     "tottime_s": round(tottime, 3), "cumtime_s": round(cumtime, 3),
                     "own": own})  # fmt: skip
    total = sum(r["tottime_s"] for r in rows) or 1.0
    by_self = sorted(rows, key=lambda r: r["tottime_s"], reverse=True)[:top]
    ours = sorted((r for r in rows if r["own"]), key=lambda r: r["cumtime_s"], reverse=True)
    return {
        "total_s": round(total, 2),
        "top_self": [{**r, "share": round(r["tottime_s"] / total, 3)} for r in by_self],
        "top_own_cumulative": ours[:top],
    }


def profile_pipeline(url: str, events: int, out: Path) -> dict[str, Any]:
    from bench.pipeline import prefill
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict
    from hub.worker import Worker

    prefill(url, events)
    runtime = Runtime.build(settings_from_dict(hub_config(url), env={}))
    worker, profile = Worker(runtime, worker_id="profiled"), cProfile.Profile()
    profile.enable()
    while worker.run_once():
        pass
    profile.disable()
    runtime.close()
    profile.dump_stats(str(out))
    return summarise(profile)


def profile_intake(url: str, requests: int, out: Path) -> dict[str, Any]:
    """The hub's WSGI app in process (no server, no network): verify, parse, commit."""
    from standardwebhooks.webhooks import Webhook

    from hub.app import create_app
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict

    runtime = Runtime.build(settings_from_dict(hub_config(url), env={}))
    client = create_app(runtime=runtime).test_client()
    signer, profile = Webhook(SECRET), cProfile.Profile()
    prepared = []
    for i in range(requests):
        body = json.dumps({"type": "contact.updated", "data": {
            "id": f"p-{i}", "first_name": "Ada", "phones": [f"+1415{i:07d}"],
            "updated_at": "2026-11-01T10:00:00Z"}})  # fmt: skip
        now, msg_id = datetime.now(UTC), f"msg_{uuid.uuid4().hex}"
        prepared.append((body, {"content-type": "application/json", "webhook-id": msg_id,
                                "webhook-timestamp": str(int(now.timestamp())),
                                "webhook-signature": signer.sign(msg_id, now, body)}))  # fmt: skip
    started = time.perf_counter()
    profile.enable()
    for body, headers in prepared:
        client.post("/webhooks/events", data=body, headers=headers)
    profile.disable()
    took = time.perf_counter() - started
    runtime.close()
    profile.dump_stats(str(out))
    return {"in_process_per_s": round(requests / took, 1), **summarise(profile)}
