"""PostgreSQL statistics for the tables read by key: the page path's (hub/store/bulk.py,
refreshed by backfills) and a worker batch's (hub/worker.py)."""

from __future__ import annotations

from sqlalchemy import Engine, text

#: Tables the page path reads by key: without statistics PostgreSQL's planner filters
#: ``external_id = ANY(...)`` / ``value = ANY(...)`` over every row of a kind (or scans
#: the identifiers), so each page read more than the last.
READ_TABLES = ("contacts", "identifiers", "source_records")
#: What a worker batch reads by key besides: existing interactions by source ref, the
#: journeys of their contacts, pops by trigger key, and the inbox it claims from.
WORKER_TABLES = (*READ_TABLES, "interactions", "journeys", "pops", "inbox_events")


def refresh_statistics(
    engine: Engine,
    *,
    fraction: float = 0.2,
    floor: int = 1_000,
    tables: tuple[str, ...] = READ_TABLES,
) -> list[str]:
    """PostgreSQL: ANALYZE ``tables`` (by default those the page path reads) once more
    than ``fraction`` of their rows (plus ``floor``) changed since their last analyze;
    returns those analyzed.

    A backfill into a fresh store grows the tables faster than autovacuum (if it runs
    at all) re-reads them, and with stale statistics the planner chose plans that grow
    with the table: a page at 100k records took 74 ms to read its source records and
    151 ms for its identifiers instead of 3.5 ms and 31 ms. Cheap to call after every
    page: one catalogue read, and an ANALYZE samples a bounded number of rows. SQLite
    plans these reads by index without statistics: nothing to do there.
    """
    if engine.dialect.name != "postgresql":
        return []
    with engine.connect() as conn:
        stale = [
            name
            for name, live, changed in conn.execute(
                text(
                    "SELECT relname, n_live_tup, n_mod_since_analyze FROM pg_stat_user_tables"
                    " WHERE schemaname = current_schema() AND relname = ANY(:names)"
                ),
                {"names": list(tables)},
            )
            if changed > floor + fraction * live
        ]
        for name in sorted(stale):  # as the catalogue names them (callers pass constants)
            conn.execute(text(f"ANALYZE {name}"))
        conn.commit()
    return sorted(stale)
