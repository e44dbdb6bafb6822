"""A cache stamp per street for its care circles (``api.store.stamps.circles_name``): the circle
target count a process keeps is filed under it, and a street without the stamp is counted afresh
on every fetch. Made here for every street already in the database (a new street gets it at its
first write of residents or orders), so a street's count is kept from the first fetch after the
upgrade.

``ix_assignments_override_order``: the overridden teams (a staff override's reason given) by
order, for the run page's list of a date's overrides (``dispatch.overrides_on``), which scanned
every assignment of the city (58 ms on its 700,000) for the few with a reason.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        stamp = "md5(random()::text || streets.id::text)"
    else:
        stamp = "lower(hex(randomblob(16)))"
    op.execute(
        "INSERT INTO cache_stamps (name, stamp) "
        f"SELECT 'circles:' || streets.id, {stamp} FROM streets "
        "WHERE NOT EXISTS (SELECT 1 FROM cache_stamps WHERE name = 'circles:' || streets.id)"
    )

    op.create_index(
        "ix_assignments_override_order",
        "assignments",
        ["order_id"],
        sqlite_where=sa.text("override_reason <> ''"),
        postgresql_where=sa.text("override_reason <> ''"),
    )


def downgrade() -> None:
    op.drop_index("ix_assignments_override_order", table_name="assignments")
    op.execute("DELETE FROM cache_stamps WHERE name LIKE 'circles:%'")
