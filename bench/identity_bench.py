"""Identity resolution at scale: N contact records through the bulk path, then the
median latency of resolving one record against the loaded store, and peak memory.

Usage: python bench/identity_bench.py [--records N | --full] [--database-url URL]
       [--page 500] [--singles 300] [--no-candidates]

Defaults: 100,000 records (``--full``: 1,000,000) into a fresh SQLite file in a
temporary folder; a PostgreSQL URL must name an empty database (it is migrated).
Records are CRM-like people over three sources (about 2.2 records per person, shared
e-mails and phones, national variants, switchboard numbers), so resolution does real
work: lookups, links, limits, the name guard and candidate scoring.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.plugin import SourceRecord
from hub.runtime import Runtime
from hub.settings import settings_from_dict
from hub.store.db import make_engine, transaction
from hub.store.migrate import upgrade

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105  (a bench-only test secret)
SOURCES = ("events", "crm", "desk")
FIRST = [
    "Robert",
    "Bob",
    "Maria",
    "Ana",
    "James",
    "Jim",
    "Sofia",
    "Lucas",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Hugo",
    "Ines",
    "Pedro",
    "Julia",
    "Rafael",
    "Chloe",
    "Mateo",
    "Kate",
]
LAST = [
    "Smith",
    "Garcia",
    "Silva",
    "Souza",
    "Lee",
    "Martin",
    "Lopez",
    "Costa",
    "Gomez",
    "Diaz",
    "Taylor",
    "Moore",
    "White",
    "Clark",
    "Young",
    "Allen",
    "Walker",
    "Ruiz",
    "Ortiz",
    "King",
]
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def people_records(n: int, seed: int = 1) -> list[tuple[str, SourceRecord]]:
    """About ``n`` records, ~2.2 per person, each person's records in several sources."""
    rng = random.Random(seed)
    out: list[tuple[str, SourceRecord]] = []
    person = 0
    while len(out) < n:
        person += 1
        first, last = rng.choice(FIRST), rng.choice(LAST) + str(person % 5000)
        email = f"{first.lower()}.{last.lower()}.{person}@example.com"
        phone = f"+1{rng.choice([212, 415, 646])}{2000000 + person % 7999999:07d}"
        if person % 5 == 0:
            phone = f"+5511{9 if rng.random() < 0.5 else ''}{60000000 + person % 39999999}"
        for source in rng.sample(SOURCES, rng.choice([1, 2, 3, 3])):
            rid = f"p{person}-{source}"
            data: dict[str, Any] = {
                "id": rid,
                "first_name": first,
                "last_name": last,
                "company": f"Co{person % 997}",
            }
            if rng.random() < 0.85:
                data["emails"] = [email.upper() if rng.random() < 0.2 else email]
            if rng.random() < 0.8:
                data["phones"] = [phone]
            if rng.random() < 0.1:
                data.setdefault("phones", []).append(f"+1212555{person % 300:04d}")
            stamp = BASE + timedelta(seconds=len(out))
            out.append((source, SourceRecord("contact", rid, data, stamp)))
    return out[:n]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def build(url: str, candidates: bool) -> Runtime:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    config = {
        "hub": {
            "database_url": url,
            "scheduler_enabled": False,
            "mappings_dir": str(Path(__file__).resolve().parents[1] / "mappings"),
            "identity": {"candidates": {"enabled": candidates}},
        },
        "connectors": [
            {"name": s, "type": "standard_webhooks", "settings": {"secret": SECRET}}
            for s in SOURCES
        ],
    }
    return Runtime.build(settings_from_dict(config, env={}))


def bulk_load(runtime: Runtime, records: list[tuple[str, SourceRecord]], page: int) -> float:
    by_source: dict[str, list[SourceRecord]] = {}
    for source, record in records:
        by_source.setdefault(source, []).append(record)
    pages = [
        (s, items[i : i + page])
        for s, items in by_source.items()
        for i in range(0, len(items), page)
    ]
    pages.sort(key=lambda p: p[1][0].updated_at or BASE)
    started = time.perf_counter()
    done = 0
    for source, items in pages:
        with transaction(runtime.sessions) as session:
            runtime.pipeline.apply(session, runtime.connectors[source], items)
        done += len(items)
        if done % (page * 100) < page:
            rate = done / (time.perf_counter() - started)
            print(f"  {done:>9,} records  {rate:>8,.0f}/s  rss {rss_mb():,.0f} MB", flush=True)
    return time.perf_counter() - started


def singles(runtime: Runtime, count: int) -> list[float]:
    """Resolve new records one at a time (the webhook path), each in its transaction."""
    timings = []
    rng = random.Random(99)
    for i in range(count):
        person = rng.randint(1, 10**6)
        data = {
            "id": f"single-{i}",
            "first_name": "Ana",
            "last_name": f"Silva{person % 5000}",
            "emails": [f"ana.silva{person % 5000}.{person}@example.com"],
            "phones": [f"+1415{2000000 + person % 7999999:07d}"],
        }
        record = SourceRecord("contact", f"single-{i}", data, BASE)
        started = time.perf_counter()
        with transaction(runtime.sessions) as session:
            runtime.pipeline.apply(session, runtime.connectors["crm"], [record])
        timings.append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 records")
    parser.add_argument("--database-url")
    parser.add_argument("--page", type=int, default=500)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--no-candidates", action="store_true")
    args = parser.parse_args(argv)
    total = 1_000_000 if args.full else args.records
    folder = tempfile.mkdtemp(prefix="threadline-identity-bench-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    runtime = build(url, candidates=not args.no_candidates)
    print(f"identity bench: {total:,} records, store {runtime.engine.url.render_as_string()}")
    records = people_records(total)
    elapsed = bulk_load(runtime, records, args.page)
    del records  # the generated input is not the hub's: keep it out of the timings
    gc.collect()
    if runtime.engine.dialect.name == "sqlite":
        # What a quiet moment does for a live hub: fold the write-ahead log back in, so
        # single lookups do not wade through a log the size of the backfill.
        import sqlite3

        runtime.engine.dispose()
        with sqlite3.connect(runtime.engine.url.database or "") as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    timings = singles(runtime, args.singles)
    from sqlalchemy import func, select

    from hub.store.models import Contact, MatchCandidate

    with runtime.read_sessions() as session:
        contacts = session.scalar(select(func.count()).select_from(Contact))
        candidates = session.scalar(select(func.count()).select_from(MatchCandidate))
    runtime.close()
    print(
        f"bulk: {total:,} records in {elapsed:,.1f} s = {total / elapsed:,.0f} records/s "
        f"({contacts:,} contacts, {candidates:,} candidates)"
    )
    print(
        f"single record against the store: median {statistics.median(timings) * 1000:.2f} ms,"
        f" p95 {sorted(timings)[int(len(timings) * 0.95)] * 1000:.2f} ms "
        f"({len(timings)} records)"
    )
    print(f"peak memory (RSS): {rss_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
