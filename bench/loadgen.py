"""Load generator (its own process): ``THREADS`` keep-alive HTTP/1.1 connections post
pre-signed Standard Webhooks to ``URL`` until ``COUNT`` requests or ``SECONDS`` pass.

Usage: python bench/loadgen.py URL SECRET COUNT SECONDS THREADS
Prints one JSON line: sent, ok, statuses, seconds, rps, p50_ms, p99_ms.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook


def requests_for(secret: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Signed before the clock starts: the generator must not measure its own HMACs."""
    signer, now = Webhook(secret), datetime.now(UTC)
    out = []
    for i in range(count):
        phone = f"+1415{i % 10_000_000:07d}"
        body = json.dumps(
            {
                "type": "contact.updated",
                "timestamp": "2026-11-01T10:00:00Z",
                "data": {
                    "id": f"c-{i}",
                    "first_name": "Ada",
                    "last_name": f"L{i}",
                    "emails": [f"p{i}@example.com"],
                    "phones": [phone],
                    "updated_at": "2026-11-01T10:00:00Z",
                },
            }
        ).encode()
        msg_id = f"msg_{uuid.uuid4().hex}"
        out.append(
            (
                body,
                {
                    "content-type": "application/json",
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(now.timestamp())),
                    "webhook-signature": signer.sign(msg_id, now, body.decode()),
                },
            )
        )
    return out


def main() -> None:
    url, secret, count, seconds, threads = (
        sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
    )  # fmt: skip
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    work = requests_for(secret, count)
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    cursor = iter(range(count))
    deadline = time.monotonic() + seconds

    def run() -> None:
        conn = http.client.HTTPConnection(host, parts.port, timeout=30)
        while time.monotonic() < deadline:
            with lock:
                i = next(cursor, None)
            if i is None:
                break
            body, headers = work[i]
            started = time.perf_counter()
            try:
                conn.request("POST", parts.path, body=body, headers=headers)
                answer = conn.getresponse()
                answer.read()
                status = str(answer.status)
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(host, parts.port, timeout=30)
            elapsed = time.perf_counter() - started
            with lock:
                statuses[status] += 1
                if status == "200":
                    latencies.append(elapsed)

    started = time.perf_counter()
    pool = [threading.Thread(target=run) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    took = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] * 1000
            if latencies
            else 0.0
        )

    print(
        json.dumps(
            {
                "sent": sum(statuses.values()),
                "ok": statuses["200"],
                "statuses": dict(statuses),
                "seconds": round(took, 3),
                "rps": round(statuses["200"] / took, 1),
                "p50_ms": round(pct(0.50), 2),
                "p99_ms": round(pct(0.99), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
