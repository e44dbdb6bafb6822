"""The reserve of an order (``order_reserves``): the helpers the last nightly run ranked next
after the order's team, asked first by a decline's re-match.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_reserves",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("helper_ids", sa.JSON(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_reserves_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_order_reserves_run_id_runs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_reserves")),
    )


def downgrade() -> None:
    op.drop_table("order_reserves")
