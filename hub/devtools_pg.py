"""``python -m hub.devtools_pg URL``: exit 0 if PostgreSQL answers at URL (used by make)."""

from __future__ import annotations

import sys

from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from hub.store.db import normalise_url


def reachable(url: str) -> bool:
    engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except DBAPIError:
        return False
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(0 if reachable(sys.argv[1]) else 1)
