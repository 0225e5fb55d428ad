"""The context benchmark's store: N contacts and about N x PER interactions, shaped like
the rows the pipeline writes (hub/store/records.py, hub/store/journeys.py,
hub/identity/*), loaded fast and cached between runs.

What a contact gets (deterministic, the same for a given size):

* a ``contacts`` row with survivorship ``lineage``; 1 % are merged into their
  neighbour (``merged_into_id`` + a ``merges`` row; their records, identifiers and
  interactions live on the survivor, as ``merge_contacts`` leaves them);
* an ``events``/``contact`` source record (``c-<i>``), a third also a
  ``salesforce``/``Contact`` one, each with its ``identity_links`` row and its
  ``record:<connector>:<object_type>`` identifier;
* a phone (90 %, E.164, one in 200 shared with the previous contact: a switchboard,
  so some lookups are ambiguous) and an e-mail (80 %);
* 1 .. 2 x PER - 1 interactions (mean PER) over the last year on voice, e-mail,
  WhatsApp, SMS, chat and CRM activity (cases, some still open), grouped into
  ``journeys`` with channel switches (a fifth are followed on another channel ten
  minutes later); 2 % have an open identity candidate.

Rows are not written contact by contact: each chunk of contacts is written month by
month, so one contact's interactions are spread over the table as a live store's are
(a lookup reads scattered pages, not one).

Loading: PostgreSQL ``COPY`` (psycopg 3) into tables whose secondary indexes and
constraints are dropped first and rebuilt after; SQLite ``executemany`` in large
transactions with journaling off, indexes rebuilt after. bench/dataset_cache.py keeps
the result and reuses it while the size and this generator are unchanged.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

GENERATOR = 1  # bump when the rows below change: cached stores are rebuilt
CHUNK = 50_000
BASE = datetime(2025, 11, 1, tzinfo=UTC)
YEAR_S = 365 * 86400
#: Odd, so i -> i * MULT mod 2**128 is a bijection: contact ids look random.
MULT = 0x9E3779B97F4A7C15F39CC0605CEDC835

CHANNELS = [  # (channel, connector, weight)
    ("voice", "twilio", 35), ("email", "email", 20), ("whatsapp", "whatsapp", 15),
    ("sms", "twilio", 10), ("chat", "zendesk", 10), ("crm-activity", "salesforce", 10),
]  # fmt: skip
STATUSES = {
    "voice": ["completed", "completed", "no-answer"], "email": ["received"],
    "whatsapp": ["delivered", "read"], "sms": ["delivered"],
    "chat": ["solved", "solved", "open", "pending"],
    "crm-activity": ["closed", "closed", "new", "working", "escalated"],
}  # fmt: skip
SUMMARIES = ["Billing question", "Order status", "Password reset", "Cancel subscription",
             "Upgrade plan", "Delivery delayed", "Refund request", "Address change"]  # fmt: skip
FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", None, None]
#: A channel index per percent, by the weights above.
PICK = [n for n, (_, _, weight) in enumerate(CHANNELS) for _ in range(weight)]

TABLES: dict[str, tuple[str, ...]] = {
    "contacts": ("id", "display_name", "first_name", "last_name", "company", "language",
                 "tier", "attributes", "lineage", "merged_into_id", "created_at",
                 "updated_at"),
    "source_records": ("id", "connector", "object_type", "external_id", "contact_id",
                       "source_updated_at", "snapshot", "deleted_at", "created_at",
                       "updated_at"),
    "identity_links": ("id", "connector", "object_type", "external_id", "contact_id", "rule",
                       "kind", "value", "ambiguous", "linked_at"),
    "identifiers": ("id", "kind", "value", "contact_id", "source_connector", "created_at"),
    "journeys": ("id", "contact_id", "started_at", "last_at", "channels", "interactions",
                 "channel_switches"),
    "interactions": ("id", "contact_id", "connector", "source_ref", "channel", "direction",
                     "occurred_at", "status", "summary", "agent", "data", "source_updated_at",
                     "journey_id", "channel_switch", "created_at", "updated_at"),
    "match_candidates": ("id", "contact_id", "candidate_id", "score", "reasons", "status",
                         "created_at", "decided_at", "decided_by"),
    "merges": ("id", "kind", "survivor_id", "merged_id", "rule", "evidence", "score", "actor",
               "created_at", "undo", "undone_at", "undone_by"),
}  # fmt: skip


def contact_id(i: int) -> str:
    return f"ct_{(i * MULT) % 2**128:032x}"


def phone_of(i: int) -> str:
    return f"+1415{i % 10_000_000:07d}"


def has_phone(i: int) -> bool:
    return i % 10 != 9


def phone_holder(i: int) -> int:
    """The contact whose number ``i`` carries: one in 200 shares the previous one's."""
    return i - 1 if i % 200 == 1 else i


def has_email(i: int) -> bool:
    return i % 5 != 4


def is_merged(i: int) -> bool:
    """Merged into ``i - 1`` (a shell: everything it had now lives on the survivor)."""
    return i % 100 == 50


class _Ids:
    def __init__(self) -> None:
        self.next: dict[str, int] = dict.fromkeys(TABLES, 1)

    def take(self, table: str) -> int:
        n = self.next[table]
        self.next[table] = n + 1
        return n


def generate(  # noqa: C901 - one flat pass is the fast way
    contacts: int, per: int, ts: Callable[[int], str], true: Any, false: Any, none: Any
) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """Chunks of rows per table, in insert order. ``ts(seconds since BASE)`` formats a
    timestamp for the store; ``true``/``false``/``none`` are its booleans and NULL."""
    AGENTS = [f"agent-{n}" for n in range(40)] + [none] * 10
    ids = _Ids()
    dumps = json.dumps
    for start in range(0, contacts, CHUNK):
        rng = random.Random(start)
        rand = rng.random
        journeys: list[list[Any]] = []
        out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
        months: list[list[tuple[Any, ...]]] = [[] for _ in range(12)]
        for i in range(start, min(contacts, start + CHUNK)):
            cid = contact_id(i)
            owner = contact_id(i - 1) if is_merged(i) else cid
            created = rng.randrange(YEAR_S // 2)
            at = ts(created)
            first, last = FIRST[i % len(FIRST)], f"Person{i}"
            company = COMPANIES[i % len(COMPANIES)]
            origin = {"connector": "events", "object_type": "contact",
                      "external_id": f"c-{i}", "at": at}  # fmt: skip
            lineage = {f: origin for f in ("first_name", "last_name", "display_name")}
            tier = "gold" if i % 20 == 0 else ("silver" if i % 7 == 0 else none)
            out["contacts"].append(
                (cid, f"{first} {last}", first, last, company, "en" if i % 3 else "es", tier,
                 "{}", dumps(lineage), contact_id(i - 1) if is_merged(i) else none, at, at)
            )  # fmt: skip
            if is_merged(i):
                out["merges"].append(
                    (ids.take("merges"), "contact", owner, cid, "source_merge",
                     dumps([{"kind": "email", "value": f"p{i}@example.com"}]), none,
                     "system", at, dumps({"moved": {}}), none, none)
                )  # fmt: skip
            keys: list[tuple[str, str]] = []
            if has_phone(i):
                keys.append(("phone", phone_of(phone_holder(i))))
            if has_email(i):
                keys.append(("email", f"p{i}@example.com"))
            records = [("events", "contact", f"c-{i}")]
            if i % 3 == 0:
                records.append(("salesforce", "Contact", f"003{i:015d}"))
            for connector, object_type, external in records:
                snapshot = {"first_name": first, "last_name": last,
                            "_keys": [list(k) for k in keys]}  # fmt: skip
                out["source_records"].append(
                    (ids.take("source_records"), connector, object_type, external, owner, at,
                     dumps(snapshot), none, at, at)
                )  # fmt: skip
                out["identity_links"].append(
                    (ids.take("identity_links"), connector, object_type, external, owner,
                     "new", none, none, "[]", at)
                )  # fmt: skip
                out["identifiers"].append(
                    (ids.take("identifiers"), f"record:{connector}:{object_type}", external,
                     owner, connector, at)
                )  # fmt: skip
            for kind, value in keys:
                out["identifiers"].append(
                    (ids.take("identifiers"), kind, value, owner, "events", at)
                )  # fmt: skip
            if i % 50 == 7 and i + 1 < contacts:
                a, b = sorted((cid, contact_id(i + 1)))
                reasons = {"name": 0.81, "company": 1.0, "phone": 0.0, "email": 0.0}
                out["match_candidates"].append(
                    (ids.take("match_candidates"), a, b, 0.78, dumps(reasons), "open", at,
                     none, none)
                )  # fmt: skip
            # The timeline: times first, then journeys (gap of an hour or more splits).
            count = 1 + int(rand() * (2 * per - 1))
            times: list[tuple[int, int]] = []  # (seconds, channel index)
            while len(times) < count:
                t = created + int(rand() * (YEAR_S - created))
                c = PICK[int(rand() * 100)]
                times.append((t, c))
                if len(times) < count and rand() < 0.2:  # followed on another channel
                    times.append((t + 600, (c + 1 + int(rand() * 5)) % 6))
            times.sort()
            journey: list[Any] = []
            journey_id, journey_last, previous = 0, -(10**9), -1
            for n, (t, c) in enumerate(times):
                if t - journey_last >= 3600:
                    if journey:
                        journeys.append(journey)
                    journey_id = ids.take("journeys")
                    journey = [journey_id, owner, t, t, [], 0, 0]
                    previous = -1
                switch = previous != -1 and previous != c
                channel, connector, _ = CHANNELS[c]
                if channel not in journey[4]:
                    journey[4].append(channel)
                journey[3] = t
                journey[5] += 1
                journey[6] += switch
                journey_last, previous = t, c
                when = ts(t)
                statuses = STATUSES[channel]
                data = ('{"duration": ' + str(20 + int(rand() * 880)) + "}" if c == 0
                        else '{"kind": "case", "case_number": "' + f"{i * 32 + n:08d}" + '"}'
                        if c == 5 else "{}")  # fmt: skip
                months[min(11, t * 12 // YEAR_S)].append(
                    (owner, connector, f"{channel}:{i}-{n}", channel,
                     "inbound" if rand() < 0.7 else "outbound", when,
                     statuses[int(rand() * len(statuses))], SUMMARIES[int(rand() * 8)],
                     AGENTS[int(rand() * 50)], data, when, journey_id,
                     true if switch else false, when, when)
                )  # fmt: skip
            if journey:
                journeys.append(journey)
        out["journeys"] = [(j[0], j[1], ts(j[2]), ts(j[3]), dumps(j[4]), j[5], j[6])
                           for j in journeys]  # fmt: skip
        n_id = ids.next["interactions"]
        rows = out["interactions"]
        for month in months:
            for row in month:
                rows.append((n_id, *row))
                n_id += 1
        ids.next["interactions"] = n_id
        yield out


# -- SQLite ----------------------------------------------------------------------------


DAYS = [(BASE + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(400)]


def _sqlite_ts(seconds: int) -> str:
    day, rest = divmod(seconds, 86400)
    hour, rest = divmod(rest, 3600)
    return f"{DAYS[day]} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}.000000"


def load_sqlite(path: Path, contacts: int, per: int) -> dict[str, Any]:
    """Build the SQLite store at ``path`` (migrated schema, bulk rows, indexes, ANALYZE)."""
    from hub.store.db import make_engine
    from hub.store.migrate import upgrade

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA foreign_keys=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    names = ", ".join(f"'{t}'" for t in TABLES)
    indexes = db.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type='index' AND sql IS NOT NULL "  # noqa: S608
        f"AND tbl_name IN ({names})"
    ).fetchall()
    for name, _ in indexes:
        db.execute(f'DROP INDEX "{name}"')
    counts = dict.fromkeys(TABLES, 0)
    started = time.perf_counter()
    for chunk in generate(contacts, per, _sqlite_ts, 1, 0, None):
        db.execute("BEGIN")
        for table, rows in chunk.items():
            if rows:
                cols = TABLES[table]
                marks = ", ".join("?" * len(cols))
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"  # noqa: S608
                db.executemany(sql, rows)
                counts[table] += len(rows)
        db.execute("COMMIT")
    rows_s = time.perf_counter() - started
    for _, sql in indexes:
        db.execute(sql)
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return {"rows": counts, "rows_seconds": round(rows_s, 1),
            "index_seconds": round(time.perf_counter() - started - rows_s, 1)}  # fmt: skip


# -- PostgreSQL ------------------------------------------------------------------------


def _pg_ts(seconds: int) -> str:
    day, rest = divmod(seconds, 86400)
    hour, rest = divmod(rest, 3600)
    return f"{DAYS[day]} {hour:02d}:{rest // 60:02d}:{rest % 60:02d}+00"


def _tsv(rows: list[tuple[Any, ...]]) -> str:
    join = "\t".join
    return "".join([join(map(str, row)) + "\n" for row in rows])


def load_postgres(dsn: str, contacts: int, per: int) -> dict[str, Any]:
    """Fill the migrated, empty PostgreSQL database at ``dsn`` with COPY."""
    import psycopg

    tables = list(TABLES)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '1GB'")
        constraints = conn.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
            "FROM pg_constraint WHERE contype IN ('u', 'f') "
            "AND conrelid::regclass::text = ANY(%s) ORDER BY contype DESC",
            (tables,),
        ).fetchall()  # 'u' before 'f': a foreign key may need a unique constraint
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (tables,),
        ).fetchall()
        for table, name, _, _kind in sorted(constraints, key=lambda c: c[3] != "f"):
            conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{name}"')
        for name, _ in indexes:
            conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        counts = dict.fromkeys(TABLES, 0)
        started = time.perf_counter()
        for chunk in generate(contacts, per, _pg_ts, "t", "f", "\\N"):
            with conn.transaction(), conn.cursor() as cur:
                for table, rows in chunk.items():
                    if not rows:
                        continue
                    with cur.copy(f"COPY {table} ({', '.join(TABLES[table])}) FROM STDIN") as cp:
                        cp.write(_tsv(rows))
                    counts[table] += len(rows)
        rows_s = time.perf_counter() - started
        for _, sql in indexes:
            conn.execute(sql)
        for table, name, definition, _ in constraints:
            conn.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for table in tables:
            sequence = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()
            if sequence and sequence[0]:
                conn.execute(
                    f"SELECT setval('{sequence[0]}', (SELECT coalesce(max(id), 0) + 1 "  # noqa: S608
                    f"FROM {table}), false)"
                )
        conn.execute("VACUUM ANALYZE")
    return {"rows": counts, "rows_seconds": round(rows_s, 1),
            "index_seconds": round(time.perf_counter() - started - rows_s, 1)}  # fmt: skip
