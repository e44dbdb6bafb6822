"""Cache stamps: one row per street's helpers and one for the catalogue, re-stamped with every
write to them (``api.store.stamps``), so workers may keep the matcher's view of a street's helpers
between re-matches.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stamps = op.create_table(
        "cache_stamps",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("stamp", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cache_stamps")),
    )
    streets = op.get_bind().execute(sa.text("SELECT id FROM streets")).scalars().all()
    rows = [{"name": f"helpers:{street}", "stamp": uuid.uuid4().hex} for street in streets]
    op.bulk_insert(stamps, [*rows, {"name": "catalogue", "stamp": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("cache_stamps")
