"""Indexes for a care circle's history at city scale (issue 13, ``bench/city_db_bench.py``).

A pair's visits (``api.services.circles.facts``: the accepted members of the done or confirmed
visits of the residents asked about) joined every assignment and offer of the city by hashing:
the big street's circle target count read 693,000 assignments to keep 18,000. With the served
assignments by order and the accepted offers by assignment (each holding the column the query
wants, so the index alone answers), PostgreSQL follows the residents' orders into both instead
(EXPLAIN ANALYZE on the city database: 465 ms to 242 ms).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

SERVED = "status IN ('done', 'confirmed')"
ACCEPTED = "status IN ('accepted')"


def upgrade() -> None:
    op.create_index(
        "ix_assignments_served_order",
        "assignments",
        ["order_id", "id"],
        sqlite_where=sa.text(SERVED),
        postgresql_where=sa.text(SERVED),
    )
    op.create_index(
        "ix_offers_accepted_assignment",
        "offers",
        ["assignment_id", "helper_id"],
        sqlite_where=sa.text(ACCEPTED),
        postgresql_where=sa.text(ACCEPTED),
    )


def downgrade() -> None:
    op.drop_index("ix_offers_accepted_assignment", table_name="offers")
    op.drop_index("ix_assignments_served_order", table_name="assignments")
