"""Setting up a real street (``qunbang street init``): the street's time zone, review step and
default promised deadline (``streets.time_zone``, ``review_orders``, ``default_deadline_hours``),
buildings (楼栋) of a grid, the building a helper or resident lives in (nullable), and a street's
own settings of catalogue items (``street_items``: enabled, duration, team size, price in fen).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("streets") as table:
        table.add_column(
            sa.Column(
                "time_zone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False
            )
        )
        table.add_column(
            sa.Column("review_orders", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        table.add_column(
            sa.Column("default_deadline_hours", sa.Integer(), server_default="72", nullable=False)
        )
    op.create_table(
        "buildings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["grids.id"], name=op.f("fk_buildings_grid_id_grids")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
        sa.UniqueConstraint("grid_id", "code", name=op.f("uq_buildings_grid_id_code")),
    )
    with op.batch_alter_table("buildings") as table:
        table.create_index(op.f("ix_buildings_grid_id"), ["grid_id"], unique=False)
    op.create_table(
        "street_items",
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("duration_min", sa.Integer(), nullable=True),
        sa.Column("team_size", sa.Integer(), nullable=True),
        sa.Column("price_fen", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "duration_min IS NULL OR duration_min > 0", name=op.f("ck_street_items_duration_min")
        ),
        sa.CheckConstraint(
            "team_size IS NULL OR team_size >= 1", name=op.f("ck_street_items_team_size")
        ),
        sa.CheckConstraint(
            "price_fen IS NULL OR price_fen >= 0", name=op.f("ck_street_items_price_fen")
        ),
        sa.ForeignKeyConstraint(
            ["item"], ["service_items.code"], name=op.f("fk_street_items_item_service_items")
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_street_items_street_id_streets")
        ),
        sa.PrimaryKeyConstraint("street_id", "item", name=op.f("pk_street_items")),
    )
    for table_name in ("helpers", "residents"):
        with op.batch_alter_table(table_name) as table:
            table.add_column(sa.Column("building_id", sa.Integer(), nullable=True))
            table.create_foreign_key(
                op.f(f"fk_{table_name}_building_id_buildings"), "buildings", ["building_id"], ["id"]
            )


def downgrade() -> None:
    for table_name in ("residents", "helpers"):
        with op.batch_alter_table(table_name) as table:
            table.drop_constraint(
                op.f(f"fk_{table_name}_building_id_buildings"), type_="foreignkey"
            )
            table.drop_column("building_id")
    op.drop_table("street_items")
    with op.batch_alter_table("buildings") as table:
        table.drop_index(op.f("ix_buildings_grid_id"))
    op.drop_table("buildings")
    with op.batch_alter_table("streets") as table:
        table.drop_column("default_deadline_hours")
        table.drop_column("review_orders")
        table.drop_column("time_zone")
