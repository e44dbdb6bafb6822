"""Indexes for a city's pages (issue 13, ``bench/city_db_bench.py``).

- ``follow_ups`` by status and due day, and by due day: the follow-up lists (the page and
  ``GET /follow-ups``) show a page soonest due first; without these, each visit sorted every
  follow-up of the status in the city.
- ``users`` by street and role: the street page lists its staff accounts, and a city has a
  login for every helper (115,000) besides.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_follow_ups_status_due_date", "follow_ups", ["status", "due_date", "id"])
    op.create_index("ix_follow_ups_due_date", "follow_ups", ["due_date", "id"])
    op.create_index("ix_users_street_id_role", "users", ["street_id", "role"])


def downgrade() -> None:
    op.drop_index("ix_users_street_id_role", table_name="users")
    op.drop_index("ix_follow_ups_due_date", table_name="follow_ups")
    op.drop_index("ix_follow_ups_status_due_date", table_name="follow_ups")
