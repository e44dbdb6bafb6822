"""Running totals of each resident-helper pair's history, and the stored circle plan (issue 13,
a city-sized database).

``circle_totals``: per resident and helper, the visits served (an accepted member of a done or
confirmed visit), the first and last day, low and good scores, how many scored and their sum —
what a care circle counts (``api.services.circles.totals``). The circle pages, the circle target
count of the run page and the report read these few rows instead of aggregating the history
(730,000 orders on the city database). Filled here from the history by the same statement the
writers and the invariant checker use (``totals.rebuild``: one INSERT … SELECT), so the rule
stays in one place.

``circle_plans``: the street's last weekly circle plan, made on demand (``circles.targets``), so
the planner page reads one row instead of planning 35,000 residents on each fetch.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.services.circles.totals import rebuild

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "circle_totals",
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("helper_id", sa.Integer(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("first_visit", sa.Date(), nullable=False),
        sa.Column("last_visit", sa.Date(), nullable=False),
        sa.Column("low_scores", sa.Integer(), nullable=False),
        sa.Column("good_scores", sa.Integer(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("score_sum", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["helpers.id"], name=op.f("fk_circle_totals_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_circle_totals_resident_id_residents")
        ),
        sa.PrimaryKeyConstraint("resident_id", "helper_id", name=op.f("pk_circle_totals")),
    )
    op.create_index(op.f("ix_circle_totals_helper_id"), "circle_totals", ["helper_id"])
    rebuild(op.get_bind())
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE circle_totals")
    op.create_table(
        "circle_plans",
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("made_at", sa.DateTime(), nullable=False),
        sa.Column("made_by", sa.Integer(), nullable=True),
        sa.Column("for_date", sa.Date(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("residents", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["made_by"], ["users.id"], name=op.f("fk_circle_plans_made_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_circle_plans_street_id_streets")
        ),
        sa.PrimaryKeyConstraint("street_id", name=op.f("pk_circle_plans")),
    )


def downgrade() -> None:
    op.drop_table("circle_plans")
    op.drop_index(op.f("ix_circle_totals_helper_id"), table_name="circle_totals")
    op.drop_table("circle_totals")
