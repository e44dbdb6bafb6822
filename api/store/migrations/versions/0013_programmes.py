"""Two-way pairing programmes (双向自主选择, issue 12): ``programmes`` (a street's season, rhythm,
capacities, rules and which stable matching it takes), ``programme_members`` (residents and helpers
enrolled, each with their ranking of their shortlist) and ``programme_pairs`` (proposed by the
stable matching, confirmed by staff with the recurring order they became).

Revision ID: 0013
Revises: 0015 (0011 on the pairing branch before main had 0012 and 0015)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FAVOURS = "favour IN ('residents', 'helpers', 'travel')"
PAIR_STATUSES = "status IN ('proposed', 'confirmed', 'ended')"


def upgrade() -> None:
    op.create_table(
        "programmes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.Integer(), nullable=True),
        sa.Column("window_end", sa.Integer(), nullable=True),
        sa.Column("helper_capacity", sa.Integer(), nullable=False),
        sa.Column("resident_capacity", sa.Integer(), nullable=False),
        sa.Column("shortlist_size", sa.Integer(), nullable=False),
        sa.Column("max_km", sa.Float(), nullable=True),
        sa.Column("gender_preference", sa.Boolean(), nullable=False),
        sa.Column("favour", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(FAVOURS, name=op.f("ck_programmes_favour")),
        sa.CheckConstraint("helper_capacity >= 1", name=op.f("ck_programmes_helper_capacity")),
        sa.CheckConstraint("resident_capacity >= 1", name=op.f("ck_programmes_resident_capacity")),
        sa.CheckConstraint("shortlist_size >= 1", name=op.f("ck_programmes_shortlist_size")),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_programmes_season")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_programmes_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["item"], ["service_items.code"], name=op.f("fk_programmes_item_service_items")
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_programmes_street_id_streets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programmes")),
    )
    op.create_index(op.f("ix_programmes_street_id"), "programmes", ["street_id"], unique=False)
    op.create_table(
        "programme_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=True),
        sa.Column("helper_id", sa.Integer(), nullable=True),
        sa.Column("ranking", sa.JSON(), nullable=False),
        sa.Column("refused", sa.JSON(), nullable=False),
        sa.Column("ranked_at", sa.DateTime(), nullable=True),
        sa.Column("ranked_by", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("joined_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(resident_id IS NULL) <> (helper_id IS NULL)",
            name=op.f("ck_programme_members_one_person"),
        ),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["helpers.id"], name=op.f("fk_programme_members_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_programme_members_programme_id_programmes"),
        ),
        sa.ForeignKeyConstraint(
            ["ranked_by"], ["users.id"], name=op.f("fk_programme_members_ranked_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["residents.id"],
            name=op.f("fk_programme_members_resident_id_residents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_members")),
        sa.UniqueConstraint(
            "programme_id", "helper_id", name=op.f("uq_programme_members_programme_id_helper_id")
        ),
        sa.UniqueConstraint(
            "programme_id",
            "resident_id",
            name=op.f("uq_programme_members_programme_id_resident_id"),
        ),
    )
    op.create_index(
        op.f("ix_programme_members_programme_id"),
        "programme_members",
        ["programme_id"],
        unique=False,
    )
    op.create_table(
        "programme_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("resident_member_id", sa.Integer(), nullable=False),
        sa.Column("helper_member_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("km", sa.Float(), nullable=False),
        sa.Column("resident_rank", sa.Integer(), nullable=False),
        sa.Column("helper_rank", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=True),
        sa.Column("proposed_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(PAIR_STATUSES, name=op.f("ck_programme_pairs_status")),
        sa.ForeignKeyConstraint(
            ["confirmed_by"], ["users.id"], name=op.f("fk_programme_pairs_confirmed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["helper_member_id"],
            ["programme_members.id"],
            name=op.f("fk_programme_pairs_helper_member_id_programme_members"),
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["programmes.id"],
            name=op.f("fk_programme_pairs_programme_id_programmes"),
        ),
        sa.ForeignKeyConstraint(
            ["resident_member_id"],
            ["programme_members.id"],
            name=op.f("fk_programme_pairs_resident_member_id_programme_members"),
        ),
        sa.ForeignKeyConstraint(
            ["series_id"],
            ["order_series.id"],
            name=op.f("fk_programme_pairs_series_id_order_series"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_programme_pairs")),
    )
    op.create_index(
        op.f("ix_programme_pairs_programme_id"), "programme_pairs", ["programme_id"], unique=False
    )
    op.create_index(
        op.f("ix_programme_pairs_series_id"), "programme_pairs", ["series_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_programme_pairs_series_id"), table_name="programme_pairs")
    op.drop_index(op.f("ix_programme_pairs_programme_id"), table_name="programme_pairs")
    op.drop_table("programme_pairs")
    op.drop_index(op.f("ix_programme_members_programme_id"), table_name="programme_members")
    op.drop_table("programme_members")
    op.drop_index(op.f("ix_programmes_street_id"), table_name="programmes")
    op.drop_table("programmes")
