"""Identity resolution at scale: N contact records through the bulk path, then the
median latency of resolving one record against the loaded store, and peak memory.

Usage: python bench/identity_bench.py [--records N | --full] [--database-url URL]
       [--page 500] [--singles 300] [--no-candidates]
       python bench/identity_bench.py --on-dataset sqlite|postgresql [--singles 300]

Defaults: 100,000 records (``--full``: 1,000,000) into a fresh SQLite file in a
temporary folder; a PostgreSQL URL must name an empty database (it is migrated).
Records are CRM-like people over three sources (about 2.2 records per person, shared
e-mails and phones, national variants, switchboard numbers), so resolution does real
work: lookups, links, limits, the name guard and automatic merges. Candidate scoring
runs off the write path (hub/identity/candidate_queue.py): after the load the scorer
takes ``--score`` contacts off the queue and its rate is printed separately. SQL
statements are counted per record (an executemany counts once).
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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import event

from hub.heap import settle_after_startup
from hub.identity.candidate_queue import score_queued
from hub.plugin import SourceRecord
from hub.runtime import Runtime
from hub.settings import settings_from_dict
from hub.store.db import make_engine, transaction
from hub.store.migrate import upgrade
from hub.store.page_statistics import refresh_statistics

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
#: ``--on-dataset``: the context benchmark's store (1M contacts, 10M interactions).
DATASET_CONTACTS, DATASET_PER = 1_000_000, 10


def people_records(n: int, seed: int = 1) -> Iterator[tuple[str, SourceRecord]]:
    """``n`` records, ~2.2 per person, each person's records in several sources,
    generated as they are consumed (a million records held at once would be the
    bench's memory, not the hub's)."""
    rng = random.Random(seed)
    made = 0
    person = 0
    while made < n:
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
            if made == n:
                return
            yield source, SourceRecord("contact", rid, data, BASE + timedelta(seconds=made))
            made += 1


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


def pages_of(
    records: Iterator[tuple[str, SourceRecord]], page: int
) -> Iterator[tuple[str, list[SourceRecord]]]:
    """Pages per source, as a backfill sends them: a source's page goes out when full."""
    buffers: dict[str, list[SourceRecord]] = {}
    for source, record in records:
        buffer = buffers.setdefault(source, [])
        buffer.append(record)
        if len(buffer) == page:
            yield source, buffer
            buffers[source] = []
    yield from ((s, items) for s, items in buffers.items() if items)


def bulk_load(
    runtime: Runtime, records: Iterator[tuple[str, SourceRecord]], page: int, counter: Counter
) -> tuple[float, int]:
    generating = 0.0
    started = time.perf_counter()
    done = 0
    pages = pages_of(records, page)
    while True:
        before = time.perf_counter()
        nxt = next(pages, None)
        generating += time.perf_counter() - before  # the input is not the hub's work
        if nxt is None:
            break
        source, items = nxt
        with transaction(runtime.sessions) as session:
            runtime.pipeline.apply(session, runtime.connectors[source], items)
        refresh_statistics(runtime.engine)  # as hub/sync.py does after each page
        done += len(items)
        if done % (page * 100) < page:
            rate = done / (time.perf_counter() - started - generating)
            print(
                f"  {done:>9,} records  {rate:>8,.0f}/s  {counter.statements / done:.3f} "
                f"statements/record  rss {rss_mb():,.0f} MB",
                flush=True,
            )
    return time.perf_counter() - started - generating, done


class Counter:
    """SQL statements sent (executemany counts once: one round trip). SQLAlchemy's
    hook sees what goes through it; PostgreSQL's identifier locks and the read after
    them go straight on the driver, two statements in one round trip
    (hub.identity.keylocks.read_after_locks), and are counted here as two."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        event.listen(engine, "before_cursor_execute", self._count)
        from hub.store import batch, page_view

        for module in (batch, page_view):
            sent = module.read_after_locks

            def counted(*args: Any, _sent: Any = sent, **kwargs: Any) -> Any:
                self.statements += 2
                return _sent(*args, **kwargs)

            module.read_after_locks = counted  # type: ignore[attr-defined]

    def _count(self, *args: Any) -> None:
        self.statements += 1


def score(runtime: Runtime, limit: int) -> tuple[int, float, float]:
    """Score up to ``limit`` queued contacts (the worker's candidate scorer); returns
    (contacts, wall seconds, CPU seconds of this process: SQLite's work included)."""
    started, cpu = time.perf_counter(), time.process_time()
    done = 0
    while done < limit:
        n = score_queued(runtime.sessions, runtime.pipeline.identity, limit=min(200, limit - done))
        if not n:
            break
        done += n
    return done, time.perf_counter() - started, time.process_time() - cpu


def new_person(i: int, rng: random.Random) -> dict[str, Any]:
    """A record of somebody the store may not know yet."""
    person = rng.randint(1, 10**6)
    return {
        "id": f"single-{i}",
        "first_name": "Ana",
        "last_name": f"Silva{person % 5000}",
        "emails": [f"ana.silva{person % 5000}.{person}@example.com"],
        "phones": [f"+1415{2000000 + person % 7999999:07d}"],
    }


def dataset_person(i: int, rng: random.Random) -> dict[str, Any]:
    """Against the context benchmark's store (bench/dataset.py): every other record is a
    known customer (their phone or e-mail, as another system would send them), the rest
    are new people."""
    from bench import dataset

    if i % 2:
        return new_person(i, rng)
    n = rng.randrange(DATASET_CONTACTS)
    data: dict[str, Any] = {"id": f"single-{i}", "first_name": "Ada", "last_name": f"Person{n}"}
    if dataset.has_phone(n):
        data["phones"] = [dataset.phone_of(dataset.phone_holder(n))]
    if dataset.has_email(n):
        data["emails"] = [f"p{n}@example.com"]
    return data


def singles(
    runtime: Runtime,
    count: int,
    make: Callable[[int, random.Random], dict[str, Any]] = new_person,
    first: int = 0,
) -> tuple[list[float], list[float]]:
    """Resolve records one at a time (the webhook path), each in its transaction.

    Returns (resolve and write, the same with the commit): a worker commits a whole
    batch of events at once, so the first is what one record costs it; the second adds
    one fsync per record."""
    timings, in_transaction = [], []
    rng = random.Random(99 + first)
    for i in range(first, first + count):
        record = SourceRecord("contact", f"single-{i}", make(i, rng), BASE)
        started = time.perf_counter()
        with transaction(runtime.sessions) as session:
            runtime.pipeline.apply(session, runtime.connectors["crm"], [record])
            session.flush()
            in_transaction.append(time.perf_counter() - started)
        timings.append(time.perf_counter() - started)
    return in_transaction, timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--full", action="store_true", help="1,000,000 records")
    parser.add_argument("--database-url")
    parser.add_argument("--page", type=int, default=500)
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--no-candidates", action="store_true")
    parser.add_argument(
        "--score",
        type=int,
        default=5000,
        help="contacts the candidate scorer takes off the queue after the load (a sample)",
    )
    parser.add_argument(
        "--on-dataset",
        choices=("sqlite", "postgresql"),
        help="no bulk load: resolve --singles records against a copy of the context "
        "benchmark's 1M-contact store (bench/dataset_cache.py; built and cached if missing)",
    )
    args = parser.parse_args(argv)
    if args.on_dataset:
        return singles_on_dataset(args.on_dataset, args.singles, not args.no_candidates)
    total = 1_000_000 if args.full else args.records
    folder = tempfile.mkdtemp(prefix="threadline-identity-bench-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    runtime = build(url, candidates=not args.no_candidates)
    settle_after_startup()  # as the worker, `threadline sync` and the scheduler do
    print(f"identity bench: {total:,} records, store {runtime.engine.url.render_as_string()}")
    counter = Counter(runtime.engine)
    elapsed, loaded = bulk_load(runtime, people_records(total), args.page, counter)
    bulk_statements = counter.statements
    gc.collect()
    if runtime.engine.dialect.name == "sqlite":
        # What a quiet moment does for a live hub: fold the write-ahead log back in, so
        # single lookups do not wade through a log the size of the backfill.
        import sqlite3

        runtime.engine.dispose()
        with sqlite3.connect(runtime.engine.url.database or "") as raw:
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counter.statements = 0
    resolved, timings = singles(runtime, args.singles)
    single_statements = counter.statements / max(1, args.singles)
    scored, scoring, scoring_cpu = (
        (0, 0.0, 0.0) if args.no_candidates else score(runtime, args.score)
    )
    from sqlalchemy import func, select

    from hub.store.models import CandidateQueueEntry, Contact, Merge

    with runtime.read_sessions() as session:
        contacts = session.scalar(select(func.count()).select_from(Contact))
        merges = session.scalar(select(func.count()).select_from(Merge))
        queued = session.scalar(select(func.count()).select_from(CandidateQueueEntry))
    runtime.close()
    print(
        f"bulk: {loaded:,} records in {elapsed:,.1f} s = {loaded / elapsed:,.0f} records/s, "
        f"{bulk_statements / loaded:.3f} SQL statements/record "
        f"({contacts:,} contacts, {merges:,} automatic merges)"
    )
    print_singles(resolved, timings, single_statements)
    if scored:
        print(
            f"candidate scorer: {scored:,} contacts in {scoring:,.1f} s = "
            f"{scored / scoring:,.0f} contacts/s, {scoring_cpu / scored * 1000:.2f} ms CPU "
            f"per contact ({queued:,} still queued)"
        )
    print(f"peak memory (RSS): {rss_mb():,.0f} MB")
    return 0


def print_singles(resolved: list[float], timings: list[float], statements: float) -> None:
    print(
        f"single record against the store: resolve and write median "
        f"{statistics.median(resolved) * 1000:.2f} ms, p95 "
        f"{sorted(resolved)[int(len(resolved) * 0.95)] * 1000:.2f} ms; with its own commit "
        f"median {statistics.median(timings) * 1000:.2f} ms, p95 "
        f"{sorted(timings)[int(len(timings) * 0.95)] * 1000:.2f} ms; "
        f"{statements:.1f} SQL statements ({len(timings)} records)"
    )


def singles_on_dataset(store: str, count: int, candidates: bool) -> int:
    """One record at a time against a 1M-contact store: a working copy of the context
    benchmark's (loading a million contacts through the bulk path first would measure
    the load, and the copy keeps the cached store pristine)."""
    from bench import dataset_cache

    def log(text: str) -> None:
        sys.stderr.write(text + "\n")

    found = dataset_cache.ensure(store, DATASET_CONTACTS, DATASET_PER, log)
    folder = Path(tempfile.mkdtemp(prefix="threadline-identity-bench-"))
    url, drop = dataset_cache.working_copy(store, found["url"], folder)
    try:
        dataset_cache.warm(store, url)  # a live store's pages are in memory, not on the disk
        runtime = build(url, candidates)
        settle_after_startup()
        print(f"identity bench: {count} single records against {DATASET_CONTACTS:,} contacts")
        counter = Counter(runtime.engine)
        singles(runtime, 20, dataset_person, first=count)  # warm connections and caches
        counter.statements = 0
        resolved, timings = singles(runtime, count, dataset_person)
        runtime.close()
        print_singles(resolved, timings, counter.statements / max(1, count))
    finally:
        drop()
    print(f"peak memory (RSS): {rss_mb():,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
