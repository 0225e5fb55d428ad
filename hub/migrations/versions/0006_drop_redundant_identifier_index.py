"""identifiers: drop ix_identifiers_lookup, a prefix of the unique (kind, value, contact_id)

Every lookup by (kind, value) already walks the unique constraint's index (SQLite's
EXPLAIN QUERY PLAN names sqlite_autoindex_identifiers_1; PostgreSQL uses a leading
column prefix the same way), so the second index only cost a random B-tree insert per
identifier: at 100k+ records those inserts are what a bulk page writes.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 04:55:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('identifiers', schema=None) as batch_op:
        batch_op.drop_index('ix_identifiers_lookup')


def downgrade() -> None:
    with op.batch_alter_table('identifiers', schema=None) as batch_op:
        batch_op.create_index('ix_identifiers_lookup', ['kind', 'value'], unique=False)
