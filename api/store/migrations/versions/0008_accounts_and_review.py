"""Grid workers, family accounts and the review step (issue 11): the roles ``grid_worker``
(网格员, scoped to ``users.grid_id``) and ``family`` (亲情代理, linked to residents through
``family_links``, each approved or rejected by community staff), and the order statuses
``review`` (an order waiting for community staff, 社区下单) and ``rejected`` with who reviewed
it, when, and why it was rejected.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The constraints as written here (not from the enums: a later change to them is a new migration).
ROLES_BEFORE = ("staff", "planner", "helper", "resident")
ROLES_AFTER = (*ROLES_BEFORE, "grid_worker", "family")
ORDER_BEFORE = ("open", "offered", "assigned", "done", "confirmed", "cancelled")
ORDER_AFTER = (*ORDER_BEFORE, "review", "rejected")
LINK_STATUSES = ("pending", "approved", "rejected")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("grid_id", sa.Integer(), nullable=True))
        table.create_foreign_key(op.f("fk_users_grid_id_grids"), "grids", ["grid_id"], ["id"])
        table.drop_constraint(op.f("ck_users_role"), type_="check")
        table.create_check_constraint("role", _in("role", ROLES_AFTER))
    with op.batch_alter_table("orders") as table:
        table.add_column(sa.Column("reviewed_by", sa.Integer(), nullable=True))
        table.add_column(sa.Column("reviewed_at", sa.DateTime(), nullable=True))
        table.add_column(sa.Column("reject_reason", sa.Text(), server_default="", nullable=False))
        table.create_foreign_key(
            op.f("fk_orders_reviewed_by_users"), "users", ["reviewed_by"], ["id"]
        )
        table.drop_constraint(op.f("ck_orders_status"), type_="check")
        table.create_check_constraint("status", _in("status", ORDER_AFTER))
    op.create_table(
        "family_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("relation", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(_in("status", LINK_STATUSES), name=op.f("ck_family_links_status")),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_family_links_decided_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_family_links_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_family_links_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_links")),
        sa.UniqueConstraint(
            "user_id", "resident_id", name=op.f("uq_family_links_user_id_resident_id")
        ),
    )
    with op.batch_alter_table("family_links") as table:
        table.create_index(op.f("ix_family_links_user_id"), ["user_id"], unique=False)
        table.create_index(op.f("ix_family_links_resident_id"), ["resident_id"], unique=False)


def downgrade() -> None:
    op.drop_table("family_links")
    op.execute("UPDATE orders SET status = 'cancelled' WHERE status IN ('review', 'rejected')")
    with op.batch_alter_table("orders") as table:
        table.drop_constraint(op.f("ck_orders_status"), type_="check")
        table.create_check_constraint("status", _in("status", ORDER_BEFORE))
        table.drop_constraint(op.f("fk_orders_reviewed_by_users"), type_="foreignkey")
        table.drop_column("reject_reason")
        table.drop_column("reviewed_at")
        table.drop_column("reviewed_by")
    op.execute("UPDATE users SET active = false WHERE role IN ('grid_worker', 'family')")
    op.execute("UPDATE users SET role = 'resident' WHERE role IN ('grid_worker', 'family')")
    with op.batch_alter_table("users") as table:
        table.drop_constraint(op.f("ck_users_role"), type_="check")
        table.create_check_constraint("role", _in("role", ROLES_BEFORE))
        table.drop_constraint(op.f("fk_users_grid_id_grids"), type_="foreignkey")
        table.drop_column("grid_id")
