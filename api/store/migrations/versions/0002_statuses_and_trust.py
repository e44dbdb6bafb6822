"""Statuses as CHECK constraints (from ``api.store.statuses``); the columns and tables of the
trust work: staff overrides on assignments, a per-street order horizon, outbox back-off, leases
(one ticker per deployment) and failed logins (throttling).

SQLite cannot add a CHECK constraint to a table: batch mode rebuilds the table (env.py turns
foreign keys off around migrations, as SQLite's documentation asks). The partial unique indexes
are dropped first and written again after, so the rebuild cannot lose their WHERE clause.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from alembic import op

from api.store.statuses import (
    LIVE_ASSIGNMENT_STATUSES,
    LIVE_OFFER_STATUSES,
    AssignmentSource,
    AssignmentStatus,
    ClaimForm,
    FollowUpStatus,
    NotificationKind,
    NotificationStatus,
    OfferStatus,
    RunKind,
    RunStatus,
    sql_in,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE_ASSIGNMENT = sql_in("status", LIVE_ASSIGNMENT_STATUSES)
LIVE_OFFER = sql_in("status", LIVE_OFFER_STATUSES)
CHECKS: dict[str, dict[str, type[StrEnum]]] = {
    "runs": {"status": RunStatus, "kind": RunKind},
    "claims": {"form": ClaimForm},
    "assignments": {"status": AssignmentStatus, "source": AssignmentSource},
    "offers": {"status": OfferStatus},
    "follow_ups": {"status": FollowUpStatus},
    "notifications": {"status": NotificationStatus, "kind": NotificationKind},
}


def _partial_indexes(create: bool) -> None:
    for table, name, columns, where in (
        ("assignments", "uq_assignments_live_order", ["order_id"], LIVE_ASSIGNMENT),
        ("offers", "uq_offers_live_member", ["assignment_id", "helper_id"], LIVE_OFFER),
    ):
        if create:
            op.create_index(
                name,
                table,
                columns,
                unique=True,
                sqlite_where=sa.text(where),
                postgresql_where=sa.text(where),
            )
        else:
            op.drop_index(name, table_name=table)


def upgrade() -> None:
    _partial_indexes(create=False)
    with op.batch_alter_table("assignments") as batch:
        batch.add_column(sa.Column("override_reason", sa.Text(), server_default="", nullable=False))
        batch.add_column(sa.Column("override_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_assignments_override_by_users", "users", ["override_by"], ["id"]
        )
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for column, enum in columns.items():
                batch.create_check_constraint(column, sql_in(column, enum))  # → ck_<table>_<column>
    _partial_indexes(create=True)
    with op.batch_alter_table("streets") as batch:
        batch.add_column(
            sa.Column("order_horizon_days", sa.Integer(), server_default="90", nullable=False)
        )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_username_at", "login_failures", ["username", "at"])
    op.create_index("ix_login_failures_client_at", "login_failures", ["client", "at"])


def downgrade() -> None:
    op.drop_table("login_failures")
    op.drop_table("leases")
    with op.batch_alter_table("streets") as batch:
        batch.drop_column("order_horizon_days")
    _partial_indexes(create=False)
    for table, columns in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_constraint(op.f(f"ck_{table}_{column}"), type_="check")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("next_attempt_at")
    with op.batch_alter_table("assignments") as batch:
        batch.drop_constraint("fk_assignments_override_by_users", type_="foreignkey")
        batch.drop_column("override_by")
        batch.drop_column("override_reason")
    _partial_indexes(create=True)
