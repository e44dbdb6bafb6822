"""The ledger's three kinds: management-type people (管理型, ``managed_people``: looked after
through grid visits, never matched), and a resident who is also a helper (the same person,
``residents.helper_id``, unique).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "managed_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("building_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("deactivated_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["building_id"], ["buildings.id"], name=op.f("fk_managed_people_building_id_buildings")
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_managed_people_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_managed_people_grid_id_grids")
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_managed_people_street_id_streets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_managed_people")),
        sa.UniqueConstraint("code", name=op.f("uq_managed_people_code")),
    )
    with op.batch_alter_table("managed_people") as table:
        table.create_index(op.f("ix_managed_people_community_id"), ["community_id"], unique=False)
        table.create_index(op.f("ix_managed_people_grid_id"), ["grid_id"], unique=False)
        table.create_index(op.f("ix_managed_people_street_id"), ["street_id"], unique=False)
    with op.batch_alter_table("residents") as table:
        table.add_column(sa.Column("helper_id", sa.Integer(), nullable=True))
        table.create_foreign_key(
            op.f("fk_residents_helper_id_helpers"), "helpers", ["helper_id"], ["id"]
        )
        table.create_unique_constraint(op.f("uq_residents_helper_id"), ["helper_id"])


def downgrade() -> None:
    with op.batch_alter_table("residents") as table:
        table.drop_constraint(op.f("uq_residents_helper_id"), type_="unique")
        table.drop_constraint(op.f("fk_residents_helper_id_helpers"), type_="foreignkey")
        table.drop_column("helper_id")
    op.drop_table("managed_people")
