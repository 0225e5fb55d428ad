"""inbox_events, deliveries: on PostgreSQL, a partial index of the pending rows' ids

A claim takes the oldest due rows (``status = 'pending' ... ORDER BY id LIMIT n``).
With only (status, next_attempt_at) and the primary key to choose from, PostgreSQL
walked the primary key in id order past every done row still kept (retention removes
them days later): at 10k done events a 100-event claim read 4,500 pages and took
5 ms, growing with the inbox. The partial index holds the pending rows alone.
SQLite already searches (status, next_attempt_at) and sorts what it finds, so it
gets no index to keep up on every insert.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 14:50:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('inbox_events', 'deliveries')


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.create_index(
            f'ix_{table}_pending', table, ['id'], unique=False,
            postgresql_where=sa.text("status = 'pending'"),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table in TABLES:
        op.drop_index(f'ix_{table}_pending', table_name=table)
