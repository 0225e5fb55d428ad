"""The bulk page path and the per-record path leave exactly the same store."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from helpers.flow import record_by_record
from sqlalchemy import delete, select

from hub.identity.candidate_queue import drain as score_candidates
from hub.plugin import SourceRecord
from hub.runtime import Runtime
from hub.store.db import transaction
from hub.store.models import Base, Contact, Identifier, IdentityLink, MatchCandidate, Merge
from hub.store.models import SourceRecord as SourceRow

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def dataset(seed: int) -> list[SourceRecord]:
    """People with shared e-mails, a switchboard number, junk values, and re-sent
    updates with older and newer timestamps, in a shuffled order."""
    rng = random.Random(seed)
    records = []
    for i in range(120):
        person = i % 90  # 30 second records of the same people under other ids
        data: dict[str, Any] = {
            "id": f"r-{i}",
            "first_name": rng.choice(["Ana", "Bo", "Cy", "", None]),
            "last_name": f"L{person}",
            "company": rng.choice(["Acme", "Globex", None]),
            "emails": [f"p{person}@example.com"] if rng.random() < 0.8 else ["test@test.com"],
            "phones": [rng.choice([f"+1415555{person:04d}", "+12125550100", "0000000"])],
        }
        records.append(
            SourceRecord("contact", f"r-{i}", data, BASE + timedelta(minutes=rng.randint(0, 500)))
        )
    for i in rng.sample(range(120), 40):  # updates, some older than what came before
        old = records[i]
        data = {
            **old.data,
            "company": rng.choice(["Initech", "Hooli"]),
            "emails": [f"new{i}@example.com"],
        }
        assert old.updated_at is not None
        stamp = old.updated_at + timedelta(minutes=rng.choice([-30, 30]))
        records.append(SourceRecord("contact", old.external_id, data, stamp))
    rng.shuffle(records)
    return records


def snapshot(runtime: Runtime) -> set[Any]:
    """The store, with contact ids replaced by the set of records each holds."""
    with runtime.read_sessions() as session:
        groups: dict[str, frozenset[str]] = {}
        for row in session.scalars(select(SourceRow)):
            groups.setdefault(row.contact_id, frozenset())
            groups[row.contact_id] |= {row.external_id}
        name = {cid: tuple(sorted(g)) for cid, g in groups.items()}
        contacts = {
            (
                name.get(c.id, ("<no record>",)),
                c.display_name,
                c.first_name,
                c.last_name,
                c.company,
                tuple(sorted(c.attributes.items())),
                tuple(sorted((k, v["external_id"], v["at"]) for k, v in c.lineage.items())),
            )
            for c in session.scalars(select(Contact))
        }
        identifiers = {
            (name.get(i.contact_id), i.kind, i.value) for i in session.scalars(select(Identifier))
        }
        records = {
            (
                r.external_id,
                name[r.contact_id],
                r.source_updated_at,
                json.dumps(r.snapshot, sort_keys=True),
            )
            for r in session.scalars(select(SourceRow))
        }
        # Why each record joined its contact (explain), and the candidate pairs.
        links = {
            (lk.external_id, lk.rule, lk.kind, lk.value, json.dumps(lk.ambiguous))
            for lk in session.scalars(select(IdentityLink))
        }
        candidates = {
            (
                frozenset({name.get(m.contact_id), name.get(m.candidate_id)}),
                m.score,
                m.status,
            )
            for m in session.scalars(select(MatchCandidate))
        }
    return (
        {("contact", *c) for c in contacts}
        | {("id", *i) for i in identifiers}
        | {("record", *r) for r in records}
        | {("link", *lk) for lk in links}
        | {("candidate", *c) for c in candidates}
    )


def wipe(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))


def test_bulk_path_equals_record_by_record(runtime: Runtime) -> None:
    connector = runtime.connectors["events"]
    kinds: set[str] = set()
    for seed in (1, 2, 3):
        records = dataset(seed)
        for record in records:
            record_by_record(runtime, "events", record)
        score_candidates(runtime.sessions, runtime.pipeline.identity)
        one_by_one = snapshot(runtime)
        kinds |= {row[0] for row in one_by_one}
        wipe(runtime)
        for start in range(0, len(records), 50):
            with transaction(runtime.sessions) as session:
                runtime.pipeline.apply(session, connector, records[start : start + 50])
        score_candidates(runtime.sessions, runtime.pipeline.identity)
        assert snapshot(runtime) == one_by_one, f"seed {seed}"
        wipe(runtime)
    assert {"link", "candidate"} <= kinds, "the data exercise links and candidates"


def crossing(seed: int) -> list[tuple[str, SourceRecord]]:
    """Three sources that each know a different key of the same people (customer
    number, e-mail, phone), so later records name two contacts at once and merge them
    (hub/identity/automerge.py); some share a household e-mail (the name guard) or a
    switchboard (ambiguous)."""
    rng = random.Random(seed)
    out = []
    source = "events"
    for i in range(150):
        person = rng.randrange(40)
        if rng.random() < 0.15:  # runs of one source, so pages hold several records
            source = rng.choice(["events", "crm", "desk"])
        data: dict[str, Any] = {
            "id": f"{source}-{person}-{rng.randrange(2)}",
            "first_name": rng.choice(["Ana", "Ann"]) if person % 7 else f"Kid{i % 3}",
            "last_name": f"L{person}",
        }
        if rng.random() < 0.5:
            data["keys"] = {"customer_number": f"C{person}"}
        if rng.random() < 0.5:
            data["emails"] = [f"p{person}@example.com" if person % 9 else "home@example.com"]
        if rng.random() < 0.4:
            data["phones"] = [rng.choice([f"+1415555{person:04d}", "+12125550100"])]
        stamp = BASE + timedelta(minutes=i)
        out.append((source, SourceRecord("contact", data["id"], data, stamp)))
    return out


def test_bulk_path_merges_exactly_like_the_record_path(make_runtime: Any) -> None:
    from helpers.config import TEST_SECRET

    connectors = [
        {"name": n, "type": "standard_webhooks", "settings": {"secret": TEST_SECRET}}
        for n in ("events", "crm", "desk")
    ]
    runtime = make_runtime(connectors=connectors)
    merged = 0
    for seed in (1, 2, 3):
        records = crossing(seed)
        for source, record in records:
            record_by_record(runtime, source, record)
        score_candidates(runtime.sessions, runtime.pipeline.identity)
        one_by_one = snapshot(runtime)
        with runtime.read_sessions() as session:
            merged += len(session.scalars(select(Merge)).all())
        wipe(runtime)
        runs: list[tuple[str, list[SourceRecord]]] = []  # consecutive records of a source
        for source, record in records:
            if runs and runs[-1][0] == source and len(runs[-1][1]) < 20:
                runs[-1][1].append(record)
            else:
                runs.append((source, [record]))
        for source, page in runs:
            with transaction(runtime.sessions) as session:
                runtime.pipeline.apply(session, runtime.connectors[source], page)
        score_candidates(runtime.sessions, runtime.pipeline.identity)
        assert snapshot(runtime) == one_by_one, f"seed {seed}"
        wipe(runtime)
    assert merged, "the data exercise automatic merges"
