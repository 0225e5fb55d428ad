"""Context-API latency over HTTP, and webhook → pop delivered, on the cached large store
(bench/dataset.py).

* Lookups: ``threadline web`` (gunicorn, as production serves it) on the store; a
  client in its own process (``python -m bench.context lookups URL SIZE N``) sends one
  request at a time on a keep-alive connection, by phone (E.164 and national formats),
  e-mail (any case) and connector + external id, hits and misses interleaved, random
  contacts (so the store's pages are read cold as often as a real day's calls do).
* Pops: a signed ``interaction.started`` for a random known caller, addressed to one
  agent, posted to the hub; the bench process holds that agent's panel stream
  (``/agent/stream``, Server-Sent Events) and runs a signed-webhook sink, and records
  when each receives the pop. SQLite: ``threadline serve`` (one process, as SQLite is
  deployed); PostgreSQL: ``threadline web`` + ``threadline worker`` (the pop crosses
  processes through LISTEN/NOTIFY, as on a cluster). On a copy of the cached store.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench import dataset, dataset_cache
from bench.common import (
    REPO,
    SECRET,
    TOKEN,
    env,
    free_port,
    hub_config,
    percentile,
    serve,
    stop,
    write_config,
)
from hub.heap import settle_after_startup

SINK_SECRET = "whsec_c2luay1zZWNyZXQtMDEyMzQ1Njc4OWFi"  # noqa: S105 - loopback bench value
PANEL_SECRET = "bench-panel-secret-0123456789"  # noqa: S105 - loopback bench value
AGENT = "agent-7"
WEB_WORKERS, WEB_THREADS = 2, 4
#: Lookup kinds, asked in turn: (name, expected status).
KINDS = (
    ("phone_e164", 200), ("phone_national", 200), ("email", 200), ("record", 200),
    ("miss_phone", 404), ("miss_email", 404), ("miss_record", 404),
)  # fmt: skip


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50), 2),
        "p95_ms": round(percentile(values, 95), 2),
        "p99_ms": round(percentile(values, 99), 2),
        "max_ms": round(max(values), 2) if values else None,
    }


def known_contact(rng: random.Random, contacts: int, need: Callable[[int], bool]) -> int:
    """A random live contact (not a merged shell) with what ``need`` asks for."""
    while True:
        i = rng.randrange(contacts)
        if not dataset.is_merged(i) and need(i):
            return i


def lookup_query(kind: str, i: int, rng: random.Random) -> dict[str, str]:
    phone = dataset.phone_of(dataset.phone_holder(i))
    digits = phone[-10:]
    if kind == "phone_e164":
        return {"phone": phone}
    if kind == "phone_national":
        area, exchange, line = digits[:3], digits[3:6], digits[6:]
        forms = [f"({area}) {exchange}-{line}", f"{area}.{exchange}.{line}",
                 f"+1 {area} {exchange} {line}", f"1{digits}"]  # fmt: skip
        return {"phone": forms[rng.randrange(len(forms))]}
    if kind == "email":
        return {"email": [f"p{i}@example.com", f"P{i}@Example.COM"][rng.randrange(2)]}
    if kind == "record":
        if i % 3 == 0 and rng.random() < 0.5:
            return {"connector": "salesforce", "object_type": "Contact", "id": f"003{i:015d}"}
        return {"connector": "events", "object_type": "contact", "id": f"c-{i}"}
    if kind == "miss_phone":
        return {"phone": f"+1628{i:07d}"}
    if kind == "miss_email":
        return {"email": f"nobody{i}@example.org"}
    return {"connector": "events", "object_type": "contact", "id": f"missing-{i}"}


def _needs(kind: str) -> Callable[[int], bool]:
    if kind.startswith("phone"):
        return dataset.has_phone
    if kind == "email":
        return dataset.has_email
    return lambda i: True


def lookup_client(
    base: str, contacts: int, samples: int, warmup: int, callers: int = 0
) -> dict[str, Any]:
    """One request at a time on a keep-alive connection; latency per lookup kind.

    ``callers``: 0 draws every lookup from all contacts (each reads pages nobody read
    lately); N draws from N recurring callers (their pages are in memory, as for a
    caller the IVR just looked up)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    rng = random.Random(11)
    recurring = [known_contact(rng, contacts, dataset.has_phone) for _ in range(callers)]
    per_kind: dict[str, list[float]] = {k: [] for k, _ in KINDS}
    wrong: dict[str, int] = {}
    settle_after_startup()  # the client's own collector pauses are not the hub's latency
    for n in range(warmup + samples):
        kind, expected = KINDS[n % len(KINDS)]
        need = _needs(kind)
        i = known_contact(rng, contacts, need)
        if recurring and not kind.startswith("miss"):
            i = next((c for c in rng.sample(recurring, len(recurring)) if need(c)), i)
        path = "/api/v1/context?" + urlencode(lookup_query(kind, i, rng))
        started = time.perf_counter()
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        elapsed = (time.perf_counter() - started) * 1000
        ok = answer.status == expected
        if ok and expected == 200:  # the right person, with their timeline
            found = json.loads(body)
            # a number shared with a neighbour (bench/dataset.py) may show the other holder
            shared = (i - 1, i + 1) if kind.startswith("phone") else ()
            names = {f"Person{n}" for n in (i, *shared)}
            ok = bool(found["interactions"]) and found["contact"]["last_name"] in names
        if not ok:
            wrong[kind] = wrong.get(kind, 0) + 1
        if n >= warmup:
            per_kind[kind].append(elapsed)
    conn.close()
    everything = [v for values in per_kind.values() for v in values]
    return {
        "all": _stats(everything),
        "kinds": {k: _stats(v) for k, v in per_kind.items()},
        "wrong": wrong,
    }


def lookups(url: str, contacts: int, samples: int, folder: Path) -> dict[str, Any]:
    """``threadline web`` on the store, the client in its own process."""
    port = free_port()
    config = write_config(hub_config(url), folder)
    command = [sys.executable, "-m", "hub.cli", "--config", str(config), "web", "--port",
               str(port), "--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS)]  # fmt: skip
    proc = serve(command, port, folder / "context-web.log")
    runs: dict[str, Any] = {}
    try:
        for name, callers, count in (("any", 0, samples), ("recurring", 500, samples // 2)):
            cached = _page_cache_mb()
            done = subprocess.run(
                [sys.executable, "-m", "bench.context", "lookups", f"http://127.0.0.1:{port}",
                 str(contacts), str(count), str(callers)],
                cwd=REPO, env=env(), capture_output=True, timeout=3600, check=False,
            )  # fmt: skip
            lines = done.stdout.decode().strip().splitlines()
            if done.returncode != 0 or not lines:
                raise RuntimeError(f"lookup client failed: {done.stderr.decode()[-1500:]}")
            runs[name] = json.loads(lines[-1])
            runs[name]["page_cache_mb"] = [cached, _page_cache_mb()]
    finally:
        stop(proc)
    result: dict[str, Any] = runs["any"]
    result["recurring"] = runs["recurring"]
    result["setup"] = (
        f"threadline web (gunicorn gthread, {WEB_WORKERS} workers x {WEB_THREADS} threads); "
        "client in its own process, one request at a time, keep-alive"
    )
    return result


def _page_cache_mb() -> int | None:
    """The OS page cache now (Linux ``Cached``), to tell cold pages from warm ones."""
    try:
        for row in Path("/proc/meminfo").read_text().splitlines():
            if row.startswith("Cached:"):
                return int(row.split()[1]) // 1024
    except OSError:
        return None
    return None


# -- webhook → pop -----------------------------------------------------------------------


class _Arrivals:
    """When each pop arrived, and which call it was about."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str | None]] = []
        self.cond = threading.Condition()

    def add(self, at: float, call: str | None) -> None:
        with self.cond:
            self.arrivals.append((at, call))
            self.cond.notify_all()

    def wait_beyond(self, count: int, timeout: float) -> tuple[float, str | None] | None:
        """The arrival after the first ``count``, once there is one (None: timed out)."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.arrivals) > count, timeout):
                return None
            return self.arrivals[count]


class _Sink(_Arrivals):
    """A local pop receiver: records when each pop arrives and which call it carries."""

    def __init__(self) -> None:
        super().__init__()
        from flask import Flask, request

        from hub.sandbox_server import run_in_thread

        app = Flask("sink")

        @app.post("/pops")
        def receive() -> tuple[str, int]:
            at = time.perf_counter()
            body = json.loads(request.get_data())
            self.add(at, _call_of(body.get("data") or {}))
            return "", 204

        self.server = run_in_thread(app)
        self.url = f"{self.server.url}/pops"


class _PanelStream(_Arrivals):
    """An agent's panel: the Server-Sent Events stream, read in a thread."""

    def __init__(self, base: str) -> None:
        from hub.panel.links import agent_token

        super().__init__()
        self.ready = threading.Event()
        query = urlencode({"agent": AGENT, "token": agent_token(PANEL_SECRET, AGENT)})
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=None)
        self.conn.request("GET", f"/agent/stream?{query}")
        self.response = self.conn.getresponse()
        if self.response.status != 200:
            raise RuntimeError(f"panel stream answered {self.response.status}")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        data = ""
        while True:
            try:
                line = self.response.readline()
            except (OSError, ValueError, AttributeError):  # closed under the reader
                return
            if not line:
                return
            text = line.decode().rstrip("\n")
            if text.startswith("retry:"):
                self.ready.set()
            elif text.startswith("data: "):
                data = text[6:]
            elif text == "" and data:
                self.add(time.perf_counter(), _call_of(json.loads(data)))
                data = ""

    def close(self) -> None:
        self.conn.close()


def _call_of(payload: dict[str, Any]) -> str | None:
    """The call a pop is about: its newest interaction's reference."""
    recent = payload.get("interactions") or []
    return str(recent[0]["source"]["ref"]) if recent else None


def _signed(call: str, phone: str) -> tuple[str, dict[str, str]]:
    from standardwebhooks.webhooks import Webhook

    body = json.dumps(
        {"type": "interaction.started", "timestamp": datetime.now(UTC).isoformat(),
         "data": {"id": call, "channel": "voice", "direction": "inbound",
                  "occurred_at": datetime.now(UTC).isoformat(), "status": "ringing",
                  "agent": AGENT, "contact": {"phone": phone}}}
    )  # fmt: skip
    now, msg_id = datetime.now(UTC), f"msg_{uuid.uuid4().hex}"
    headers = {"content-type": "application/json", "webhook-id": msg_id,
               "webhook-timestamp": str(int(now.timestamp())),
               "webhook-signature": Webhook(SECRET).sign(msg_id, now, body)}  # fmt: skip
    return body, headers


def webhook_to_pop(
    url: str, store: str, contacts: int, samples: int, folder: Path, warmup: int = 10
) -> dict[str, Any]:
    """Webhook sent → pop at the panel stream and at the webhook sink, per target."""
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    sink = _Sink()
    port = free_port()
    config = hub_config(
        url,
        pops={
            "default_targets": ["panel", "webhook:sink"],
            "panel_secret": PANEL_SECRET,
            "webhooks": [{"name": "sink", "url": sink.url, "secret": SINK_SECRET,
                          "allow_cidrs": ["127.0.0.0/8"]}],
        },
    )  # fmt: skip
    path = write_config(config, folder)
    cli = [sys.executable, "-m", "hub.cli", "--config", str(path)]
    procs: list[subprocess.Popen[bytes]] = []
    if store == "sqlite":
        procs.append(serve([*cli, "serve", "--port", str(port)], port, folder / "pop.log"))
        setup = "threadline serve (web + worker in one process)"
    else:
        with (folder / "pop-worker.log").open("ab") as out:
            procs.append(subprocess.Popen([*cli, "worker"], cwd=REPO, env=env(), stdout=out,
                                          stderr=subprocess.STDOUT))  # fmt: skip
        web = [*cli, "web", "--port", str(port), "--workers", "1", "--threads", "8"]
        procs.append(serve(web, port, folder / "pop-web.log"))
        setup = "threadline web (1 worker x 8 threads) + threadline worker; panel via NOTIFY"
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(5)
    latencies: dict[str, list[float]] = {"panel": [], "webhook": []}
    lost = {"panel": 0, "webhook": 0}
    wrong = 0
    try:
        panel = _PanelStream(base)
        panel.ready.wait(30)
        time.sleep(1.0)  # PostgreSQL: the web process's LISTEN is in place
        poster = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        settle_after_startup()  # the client's own collector pauses are not the hub's latency
        for n in range(warmup + samples):
            i = known_contact(rng, contacts, dataset.has_phone)
            call = f"call-{uuid.uuid4().hex[:12]}"
            body, headers = _signed(call, dataset.phone_of(dataset.phone_holder(i)))
            seen = {"panel": len(panel.arrivals), "webhook": len(sink.arrivals)}
            sent = time.perf_counter()
            poster.request("POST", "/webhooks/events", body=body.encode(), headers=headers)
            answer = poster.getresponse()
            answer.read()
            if answer.status >= 300:
                raise RuntimeError(f"the hub answered {answer.status} to a webhook")
            for name, receiver in (("panel", panel), ("webhook", sink)):
                arrived = receiver.wait_beyond(seen[name], 10.0)
                if arrived is None:  # one webhook at a time: the next pop is this one's
                    lost[name] += 1
                    continue
                at, got = arrived
                wrong += got != f"interaction:{call}"
                if n >= warmup:
                    latencies[name].append((at - sent) * 1000)
        poster.close()
        panel.close()
    finally:
        for proc in reversed(procs):
            stop(proc)
        sink.server.stop()
    return {
        "setup": setup,
        "targets": {name: {**_stats(v), "lost": lost[name]} for name, v in latencies.items()},
        "wrong_call": wrong,
        "stages": _stages(url, warmup),
    }


def _stages(url: str, warmup: int) -> dict[str, Any]:
    """Where the time went, from the outbox's own clocks: webhook received → pop queued
    (intake, the worker's claim and the pipeline transaction, context included) and
    queued → delivered (the outbox's claim, the push, its bookkeeping)."""
    from sqlalchemy import select

    from hub.store.db import make_engine
    from hub.store.models import Delivery, InboxEvent

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    Delivery.target, Delivery.received_at, Delivery.created_at,
                    Delivery.delivered_at,
                ).order_by(Delivery.id)
            ).all()  # fmt: skip
            events = conn.execute(
                select(InboxEvent.received_at, InboxEvent.processed_at)
                .where(InboxEvent.event_type == "interaction.started")
                .order_by(InboxEvent.id)
            ).all()
    finally:
        engine.dispose()
    done = [(e.processed_at - e.received_at).total_seconds() * 1000 for e in events[warmup:]
            if e.processed_at is not None]  # fmt: skip
    out: dict[str, Any] = {"inbox received → processed": _stats(done)}
    for target in sorted({r.target for r in rows}):
        mine = [r for r in rows if r.target == target][warmup:]
        queued = [(r.created_at - r.received_at).total_seconds() * 1000 for r in mine
                  if r.received_at is not None]  # fmt: skip
        pushed = [(r.delivered_at - r.created_at).total_seconds() * 1000 for r in mine
                  if r.delivered_at is not None]  # fmt: skip
        out[target] = {"received_to_queued": _stats(queued), "queued_to_delivered": _stats(pushed)}
    return out


def run(
    store: str, contacts: int, per: int, lookups_n: int, pops_n: int, folder: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """Both measurements on one store; builds (or reuses) the dataset first."""
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    data = dataset_cache.ensure(store, contacts, per, log)
    out: dict[str, Any] = {
        "dataset": {k: data.get(k) for k in ("rows", "load_seconds", "rows_seconds",
                                              "index_seconds", "size_mb", "cached")},
        "contacts": contacts,
        "interactions": (data.get("rows") or {}).get("interactions"),
        "ready_seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip
    out["warm_seconds"] = dataset_cache.warm(store, data["url"])
    log(f"context: {lookups_n} lookups over HTTP on {store}")
    out["lookups"] = lookups(data["url"], contacts, lookups_n, folder)
    log(f"pop: copying the {store} store, then {pops_n} webhooks -> pops")
    copy_url, drop = dataset_cache.working_copy(store, data["url"], folder)
    try:
        out["pops"] = webhook_to_pop(copy_url, store, contacts, pops_n, folder)
    finally:
        drop()
    # Other work on the machine stretches every figure: say how busy it was.
    out["load_average"] = [round(load_before, 1), round(os.getloadavg()[0], 1)]
    return out


if __name__ == "__main__":  # python -m bench.context lookups BASE CONTACTS SAMPLES CALLERS
    base, contacts_arg, samples_arg = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    callers_arg = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    warm = 200 if callers_arg == 0 else 2 * callers_arg  # recurring callers: seen once
    print(json.dumps(lookup_client(base, contacts_arg, samples_arg, warm, callers_arg)))
