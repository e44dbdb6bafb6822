"""Volunteer hours and a helper's own time (issue 12).

- ``visit_clocks``: each team member's check-in and check-out at a visit (签到/签退), with a
  position only when the phone offered one and the helper agreed; staff corrections.
- ``hours_entries``: the hours ledger, append-only like ``points_entries`` (triggers refuse
  UPDATE and DELETE; a correction is a reversing entry).
- ``helpers``: the helper's own time: hours per weekday, leave dates, "pause this week", and the
  day from which they bind matching.

Visits confirmed before this revision get their members' planned durations (``BACKFILL``).

Revision ID: 0014
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.statuses import HoursKind, HoursSource, sql_in

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

APPEND_ONLY = "hours_entries is append-only: add a reversing entry instead"
# Visits confirmed before this revision count too: each accepted member of a confirmed visit
# gets the item's planned duration (the street's own, else the catalogue's), as a visit staff
# confirm without check-in and check-out does from now on.
BACKFILL = """
INSERT INTO hours_entries
    (helper_id, order_id, served_on, minutes, kind, source, reason, created_by, created_at)
SELECT offers.helper_id, orders.id, orders.date,
       COALESCE(street_items.duration_min, service_items.duration_min),
       'visit', 'planned', '', assignments.confirmed_by,
       COALESCE(assignments.confirmed_at, assignments.created_at)
FROM assignments
JOIN orders ON orders.id = assignments.order_id
JOIN offers ON offers.assignment_id = assignments.id
JOIN service_items ON service_items.code = orders.item
LEFT JOIN street_items
    ON street_items.street_id = orders.street_id AND street_items.item = orders.item
WHERE assignments.status = 'confirmed' AND offers.status = 'accepted'
ORDER BY assignments.id, offers.helper_id
"""


def upgrade() -> None:
    with op.batch_alter_table("helpers") as table:
        table.add_column(sa.Column("week_hours", sa.JSON(), nullable=True))
        table.add_column(
            sa.Column("leave_dates", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
        )
        table.add_column(sa.Column("paused_until", sa.Date(), nullable=True))
        table.add_column(sa.Column("own_time_from", sa.Date(), nullable=True))
    op.create_table(
        "visit_clocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("helper_id", sa.Integer(), nullable=False),
        sa.Column("in_at", sa.DateTime(), nullable=True),
        sa.Column("in_lat", sa.Float(), nullable=True),
        sa.Column("in_lon", sa.Float(), nullable=True),
        sa.Column("in_accuracy_m", sa.Float(), nullable=True),
        sa.Column("out_at", sa.DateTime(), nullable=True),
        sa.Column("out_lat", sa.Float(), nullable=True),
        sa.Column("out_lon", sa.Float(), nullable=True),
        sa.Column("out_accuracy_m", sa.Float(), nullable=True),
        sa.Column("corrected_by", sa.Integer(), nullable=True),
        sa.Column("corrected_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["assignments.id"],
            name=op.f("fk_visit_clocks_assignment_id_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["corrected_by"], ["users.id"], name=op.f("fk_visit_clocks_corrected_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["helpers.id"], name=op.f("fk_visit_clocks_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_visit_clocks_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_clocks")),
        sa.UniqueConstraint(
            "assignment_id", "helper_id", name=op.f("uq_visit_clocks_assignment_id_helper_id")
        ),
    )
    op.create_index(op.f("ix_visit_clocks_helper_id"), "visit_clocks", ["helper_id"])
    op.create_index(op.f("ix_visit_clocks_order_id"), "visit_clocks", ["order_id"])
    op.create_table(
        "hours_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("helper_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("served_on", sa.Date(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(sql_in("kind", HoursKind), name=op.f("ck_hours_entries_kind")),
        sa.CheckConstraint(sql_in("source", HoursSource), name=op.f("ck_hours_entries_source")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_hours_entries_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["helpers.id"], name=op.f("fk_hours_entries_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_hours_entries_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["reverses_id"],
            ["hours_entries.id"],
            name=op.f("fk_hours_entries_reverses_id_hours_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hours_entries")),
        sa.UniqueConstraint("reverses_id", name=op.f("uq_hours_entries_reverses_id")),
    )
    op.create_index(op.f("ix_hours_entries_order_id"), "hours_entries", ["order_id"])
    op.create_index(
        "ix_hours_entries_helper_served_on", "hours_entries", ["helper_id", "served_on"]
    )
    op.execute(BACKFILL)
    _append_only_hours()


def downgrade() -> None:
    _drop_append_only_hours()
    op.drop_index("ix_hours_entries_helper_served_on", table_name="hours_entries")
    op.drop_index(op.f("ix_hours_entries_order_id"), table_name="hours_entries")
    op.drop_table("hours_entries")
    op.drop_index(op.f("ix_visit_clocks_order_id"), table_name="visit_clocks")
    op.drop_index(op.f("ix_visit_clocks_helper_id"), table_name="visit_clocks")
    op.drop_table("visit_clocks")
    with op.batch_alter_table("helpers") as table:
        table.drop_column("own_time_from")
        table.drop_column("paused_until")
        table.drop_column("leave_dates")
        table.drop_column("week_hours")


def _append_only_hours() -> None:
    """Refuse UPDATE and DELETE on the hours ledger in the database itself (as 0001 does for
    the points ledger)."""
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER hours_entries_no_{event.lower()} BEFORE {event} "
                f"ON hours_entries BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION hours_entries_append_only() RETURNS trigger AS $$ "
        f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$ LANGUAGE plpgsql"
    )
    op.execute(
        "CREATE TRIGGER hours_entries_append_only BEFORE UPDATE OR DELETE ON hours_entries "
        "FOR EACH ROW EXECUTE FUNCTION hours_entries_append_only()"
    )


def _drop_append_only_hours() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS hours_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS hours_entries_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS hours_entries_append_only ON hours_entries")
    op.execute("DROP FUNCTION IF EXISTS hours_entries_append_only()")
