"""Context lookup p99 on a bulk-loaded store, and webhook → pop latency end to end."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import (
    REPO,
    SECRET,
    TOKEN,
    env,
    free_port,
    hub_config,
    percentile,
    wait_http,
    write_config,
)

SINK_SECRET = "whsec_c2luay1zZWNyZXQtMDEyMzQ1Njc4OWFi"  # noqa: S105 - loopback bench value


def phone_of(i: int) -> str:
    return f"+1415{i:07d}"


def _phone_key(phone: str) -> tuple[str, str]:
    try:
        from hub.identity.resolve import DEFAULT_RULES

        key = DEFAULT_RULES.normalise("phone", phone)
        return str(key[0]), str(key[1])
    except (ImportError, AttributeError):
        return "phone", phone


def bulk_load(url: str, contacts: int, per_contact: int, batch: int = 5000) -> dict[str, Any]:
    """Contacts, one phone and one e-mail identifier each, one source record each and
    ``per_contact`` interactions each, inserted in bulk (executemany) for speed."""
    from hub.store.db import make_engine
    from hub.store.models import Contact, Identifier, Interaction, SourceRecord

    engine = make_engine(url)
    started = time.perf_counter()
    now = datetime.now(UTC)
    base = now - timedelta(days=365)
    for start in range(0, contacts, batch):
        ids = range(start, min(contacts, start + batch))
        cids = {i: f"ct_{i:09d}" for i in ids}
        rows_c = [
            {"id": cids[i], "display_name": f"Person {i}", "first_name": "Person",
             "last_name": str(i), "attributes": {}, "lineage": {}, "created_at": now,
             "updated_at": now}
            for i in ids
        ]  # fmt: skip
        rows_i = []
        for i in ids:
            kind, value = _phone_key(phone_of(i))
            rows_i.append({"kind": kind, "value": value, "contact_id": cids[i],
                           "source_connector": "events", "created_at": now})  # fmt: skip
            rows_i.append({"kind": "email", "value": f"p{i}@example.com", "contact_id": cids[i],
                           "source_connector": "events", "created_at": now})  # fmt: skip
        rows_s = [
            {"connector": "events", "object_type": "contact", "external_id": f"c-{i}",
             "contact_id": cids[i], "source_updated_at": now, "snapshot": {"id": f"c-{i}"},
             "created_at": now, "updated_at": now}
            for i in ids
        ]  # fmt: skip
        rows_x = [
            {"contact_id": cids[i], "connector": "events", "source_ref": f"call:{i}-{k}",
             "channel": "voice", "direction": "inbound",
             "occurred_at": base + timedelta(minutes=i % 500_000 + k * 997),
             "status": "completed", "summary": "Billing question", "agent": "agent-7",
             "data": {}, "channel_switch": False, "created_at": now, "updated_at": now}
            for i in ids
            for k in range(per_contact)
        ]  # fmt: skip
        with engine.begin() as conn:
            conn.execute(Contact.__table__.insert(), rows_c)
            conn.execute(Identifier.__table__.insert(), rows_i)
            conn.execute(SourceRecord.__table__.insert(), rows_s)
            if rows_x:
                conn.execute(Interaction.__table__.insert(), rows_x)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            from sqlalchemy import text

            conn.execute(text("ANALYZE"))
    engine.dispose()
    return {
        "contacts": contacts,
        "interactions": contacts * per_contact,
        "load_seconds": round(time.perf_counter() - started, 1),
    }


def lookups(url: str, contacts: int, samples: int, profile: Any = None) -> dict[str, Any]:
    """``GET /api/v1/context?phone=…`` through the app (WSGI, in process), by random
    known numbers in several formats; server-side latency without the network."""
    from hub.app import create_app
    from hub.runtime import Runtime
    from hub.settings import settings_from_dict

    runtime = Runtime.build(settings_from_dict(hub_config(url), env={}))
    client = create_app(runtime=runtime).test_client()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    rng = random.Random(7)
    latencies, misses = [], 0
    for n in range(samples + 50):
        i = rng.randrange(contacts)
        digits = f"{i:07d}"
        phone = [phone_of(i), f"(415) {digits[:3]}-{digits[3:]}"][n % 2]
        started = time.perf_counter()
        if profile is not None and n >= 50:
            profile.enable()
        answer = client.get("/api/v1/context", query_string={"phone": phone}, headers=auth)
        if profile is not None:
            profile.disable()
        elapsed = time.perf_counter() - started
        if answer.status_code != 200:
            misses += 1
        if n >= 50:  # warm-up first
            latencies.append(elapsed * 1000)
    runtime.close()
    return {
        "samples": samples,
        "misses": misses,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2),
    }


class _Sink:
    """A local pop receiver: records when each pop arrives."""

    def __init__(self) -> None:
        from flask import Flask, request

        from hub.sandbox_server import run_in_thread

        self.arrivals: list[float] = []
        self.cond = threading.Condition()
        app = Flask("sink")

        @app.post("/pops")
        def receive() -> tuple[str, int]:
            at = time.perf_counter()
            request.get_data()
            with self.cond:
                self.arrivals.append(at)
                self.cond.notify_all()
            return "", 204

        self.server = run_in_thread(app)
        self.url = f"{self.server.url}/pops"


def webhook_to_pop(url: str, folder: Path, samples: int) -> dict[str, Any]:
    """Signed ``interaction.started`` posted to ``threadline serve``; the pop arrives at
    a signed-webhook sink. Latency: sending the webhook → the pop received."""
    import logging

    import requests
    from standardwebhooks.webhooks import Webhook

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sink = _Sink()
    port = free_port()
    config = hub_config(
        url,
        pops={
            "default_targets": ["webhook:sink"],
            "webhooks": [
                {
                    "name": "sink",
                    "url": sink.url,
                    "secret": SINK_SECRET,
                    "allow_cidrs": ["127.0.0.0/8"],
                }
            ],
        },
    )
    path = write_config(config, folder)
    with (folder / "serve.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "--config", str(path), "serve", "--port", str(port)],
            cwd=REPO, env=env(), stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    latencies, lost = [], 0
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 60, proc)
        session, signer = requests.Session(), Webhook(SECRET)
        for n in range(samples + 10):
            call = f"call-{uuid.uuid4().hex[:10]}"
            body = json.dumps(
                {"type": "interaction.started", "timestamp": "2026-11-01T10:05:00Z",
                 "data": {"id": call, "channel": "voice", "direction": "inbound",
                          "occurred_at": datetime.now(UTC).isoformat(), "status": "ringing",
                          "agent": "agent-7", "contact": {"phone": phone_of(n % 1000)}}}
            )  # fmt: skip
            now, msg_id = datetime.now(UTC), f"msg_{uuid.uuid4().hex}"
            headers = {"content-type": "application/json", "webhook-id": msg_id,
                       "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": signer.sign(msg_id, now, body)}  # fmt: skip
            sent = time.perf_counter()
            session.post(f"http://127.0.0.1:{port}/webhooks/events", data=body, headers=headers,
                         timeout=10).raise_for_status()  # fmt: skip
            with sink.cond:  # one webhook at a time: the next pop is this one's
                if not sink.cond.wait_for(lambda n=n, lost=lost: len(sink.arrivals) > n - lost, 10):
                    lost += 1
                    continue
                at = sink.arrivals[n - lost]
            if n >= 10:
                latencies.append((at - sent) * 1000)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        sink.server.stop()
    return {
        "samples": len(latencies),
        "lost": lost,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies), 2) if latencies else None,
    }
