"""Running totals of each resident-helper pair's history, and the stored circle plan (issue 13,
a city-sized database).

``circle_totals``: per resident and helper, the visits served (an accepted member of a done or
confirmed visit), the first and last day, low and good scores, how many scored and their sum —
what a care circle counts (``api.services.circles.totals``). The circle pages, the circle target
count of the run page and the report read these few rows instead of aggregating the history
(730,000 orders on the city database). Filled here from the history by that rule as it stood
(``FILL``: one INSERT … SELECT); the invariant checker compares the table with the live rule.

``circle_plans``: the street's last weekly circle plan, made on demand (``circles.targets``), so
the planner page reads one row instead of planning 35,000 residents on each fetch.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# The totals as ``api.services.circles.totals.history`` counted them when this revision was
# written (served: an accepted offer on a done or confirmed assignment; low score <= 2, good
# >= 4, ``matcher.circles``), frozen here as a migration must be: it runs on the schema of its
# revision whatever the code becomes. ``qunbang db check`` compares the table with the live rule.
FILL = """
INSERT INTO circle_totals (resident_id, helper_id, visits, first_visit, last_visit, low_scores,
                           good_scores, scored, score_sum)
SELECT orders.resident_id, offers.helper_id, count(*), min(orders.date), max(orders.date),
       sum(CASE WHEN feedback.score <= 2 THEN 1 ELSE 0 END),
       sum(CASE WHEN feedback.score >= 4 THEN 1 ELSE 0 END),
       count(feedback.score), coalesce(sum(feedback.score), 0)
FROM orders
JOIN assignments ON assignments.order_id = orders.id
JOIN offers ON offers.assignment_id = assignments.id
LEFT OUTER JOIN feedback ON feedback.order_id = orders.id
WHERE assignments.status IN ('done', 'confirmed') AND offers.status = 'accepted'
GROUP BY orders.resident_id, offers.helper_id
"""


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
    op.execute(FILL)
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
