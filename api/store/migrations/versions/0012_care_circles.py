"""Care circles (issue 12): staff's choices about circle members, and each street's target.

- ``circle_pairs``: per resident and helper, staff's last choice (added or removed) and how many
  low scores staff kept the helper through; membership is derived (``matcher.circles``).
- ``streets``: the circle target (``circle_size`` members for residents of
  ``circle_categories``).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("streets") as table:
        table.add_column(sa.Column("circle_size", sa.Integer(), server_default="3", nullable=False))
        table.add_column(
            sa.Column(
                "circle_categories",
                sa.JSON(),
                server_default=sa.text("'[\"living_alone\"]'"),
                nullable=False,
            )
        )
    op.create_table(
        "circle_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("helper_id", sa.Integer(), nullable=False),
        sa.Column("staff", sa.String(length=16), nullable=True),
        sa.Column("kept_lows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("changed_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "staff IS NULL OR staff IN ('added', 'removed')", name=op.f("ck_circle_pairs_staff")
        ),
        sa.CheckConstraint("kept_lows >= 0", name=op.f("ck_circle_pairs_kept_lows")),
        sa.ForeignKeyConstraint(
            ["changed_by"], ["users.id"], name=op.f("fk_circle_pairs_changed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["helpers.id"], name=op.f("fk_circle_pairs_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_circle_pairs_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_circle_pairs")),
        sa.UniqueConstraint(
            "resident_id", "helper_id", name=op.f("uq_circle_pairs_resident_id_helper_id")
        ),
    )
    op.create_index(op.f("ix_circle_pairs_helper_id"), "circle_pairs", ["helper_id"])
    op.create_index(op.f("ix_circle_pairs_resident_id"), "circle_pairs", ["resident_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_circle_pairs_resident_id"), table_name="circle_pairs")
    op.drop_index(op.f("ix_circle_pairs_helper_id"), table_name="circle_pairs")
    op.drop_table("circle_pairs")
    with op.batch_alter_table("streets") as table:
        table.drop_column("circle_categories")
        table.drop_column("circle_size")
