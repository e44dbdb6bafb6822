"""The closed loop's owner and deadline of an order: ``orders.owner_id`` (首接负责),
``orders.due_at`` (定时限) and ``orders.first_date`` (the date first asked for, kept while an order
nobody could take rolls over to later runs). Existing orders keep no owner and no deadline; their
first date is their date.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders") as table:
        table.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        table.add_column(sa.Column("due_at", sa.DateTime(), nullable=True))
        table.add_column(sa.Column("first_date", sa.Date(), nullable=True))
        table.create_foreign_key(op.f("fk_orders_owner_id_users"), "users", ["owner_id"], ["id"])
        table.create_index(op.f("ix_orders_due_at"), ["due_at"], unique=False)
    op.execute("UPDATE orders SET first_date = date")


def downgrade() -> None:
    with op.batch_alter_table("orders") as table:
        table.drop_index(op.f("ix_orders_due_at"))
        table.drop_constraint(op.f("fk_orders_owner_id_users"), type_="foreignkey")
        table.drop_column("first_date")
        table.drop_column("due_at")
        table.drop_column("owner_id")
