"""The honour roll's running totals (issue 13, ``bench/city_db_bench.py``): ``honour_days``, per
helper and street day, the hours ledger's minutes and visits and the points that count towards
the roll, with the helper's street (the roll reads a street's days as one index range, the
figures in the index). The roll summed a year of both ledgers for a street's 14,400 helpers on
each visit (sequential scans of 760,000 points and 720,000 hours entries); it now sums these
rows. The ledgers' writers keep them (``api.services.hours.totals``, which says what counts and
by which day); here they are filled from the ledgers by the same grouped statements (one INSERT),
the points' day in the configured street time zone (``QUNBANG_TIMEZONE``, as the writers use).

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.orm import Session

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


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
    from api.services.hours import totals  # the one definition of what counts

    session = Session(bind=op.get_bind())
    totals.rebuild(session)
    session.flush()
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
