"""The honour roll's running totals (issue 13, ``bench/city_db_bench.py``): ``honour_days``, per
helper and street day, the hours ledger's minutes and visits and the points that count towards
the roll, with the helper's street (the roll reads a street's days as one index range, the
figures in the index). The roll summed a year of both ledgers for a street's 14,400 helpers on
each visit (sequential scans of 760,000 points and 720,000 hours entries); it now sums these
rows. The ledgers' writers keep them (``api.services.hours.totals``, which says what counts and
by which day); here they are filled from the ledgers by that rule as it stood (``FILL``), the
points' day in the configured street time zone (``QUNBANG_TIMEZONE``, as the writers use).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.settings import get_settings

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# The totals as ``api.services.hours.totals`` groups the ledgers when this revision was written
# (hours by the visit's day, a reversal undoing a visit; points that count, i.e. neither the
# shop's debit nor a cancelled receipt's refund, by the day credited in street time), frozen here
# as a migration must be: it runs on the schema of its revision whatever the code becomes.
# ``qunbang db check`` compares the table with the live rule.
FILL = """
INSERT INTO honour_days (helper_id, street_id, day, minutes, visits, points)
SELECT helper_id, street_id, day, sum(minutes), sum(visits), sum(points)
FROM (
    SELECT hours_entries.helper_id AS helper_id, helpers.street_id AS street_id,
           hours_entries.served_on AS day, sum(hours_entries.minutes) AS minutes,
           sum(CASE WHEN hours_entries.kind = 'visit' THEN 1 ELSE -1 END) AS visits, 0 AS points
    FROM hours_entries JOIN helpers ON helpers.id = hours_entries.helper_id
    GROUP BY hours_entries.helper_id, helpers.street_id, hours_entries.served_on
    UNION ALL
    SELECT points_entries.helper_id, helpers.street_id, {day}, 0, 0, sum(points_entries.amount)
    FROM points_entries JOIN helpers ON helpers.id = points_entries.helper_id
    WHERE points_entries.kind != 'redemption'
      AND NOT EXISTS (SELECT 1 FROM redemptions
                      WHERE redemptions.refund_entry_id = points_entries.id)
    GROUP BY 1, 2, 3
) AS groups
GROUP BY helper_id, street_id, day
"""


def upgrade() -> None:
    op.create_table(
        "honour_days",
        sa.Column("helper_id", sa.Integer(), sa.ForeignKey("helpers.id"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("street_id", sa.Integer(), sa.ForeignKey("streets.id"), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("visits", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("points", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("helper_id", "day"),
    )
    if op.get_bind().dialect.name == "postgresql":
        day = "CAST(timezone(:zone, timezone('UTC', points_entries.created_at)) AS DATE)"
    else:  # the function ``api.store.db.make_engine`` gives each SQLite connection
        day = "qunbang_local_date(points_entries.created_at, :zone)"
    op.get_bind().execute(sa.text(FILL.format(day=day)), {"zone": get_settings().timezone})
    op.create_index(
        "ix_honour_days_street_day_figures",
        "honour_days",
        ["street_id", "day"],
        postgresql_include=["helper_id", "minutes", "visits", "points"],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ANALYZE honour_days")


def downgrade() -> None:
    op.drop_index("ix_honour_days_street_day_figures", table_name="honour_days")
    op.drop_table("honour_days")
