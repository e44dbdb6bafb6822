"""Micro-wishes and the points shop (issue 12).

- ``partner_units`` (共建单位) and standing ``volunteer_teams`` with their ``team_members``;
- ``wishes`` (微心愿) and ``wish_payments`` (the points each confirmed wish paid, once);
- ``shop_items`` (积分兑换超市: price, stock never below 0) and ``redemptions`` (receipts, each
  with its debit in the points ledger and, when cancelled, the reversal that credited it back).

The points ledger's new kinds (``wish``, ``redemption``) need no change: ``points_entries.kind``
carries no CHECK.

Revision ID: 0015
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "partner_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("contact", sa.String(length=200), server_default="", nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('company', 'party_branch')", name=op.f("ck_partner_units_kind")
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_partner_units_street_id_streets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_partner_units")),
        sa.UniqueConstraint("street_id", "name", name=op.f("uq_partner_units_street_id_name")),
    )
    with op.batch_alter_table("partner_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_partner_units_street_id"), ["street_id"], unique=False)

    op.create_table(
        "volunteer_teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_volunteer_teams_street_id_streets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_teams")),
        sa.UniqueConstraint("street_id", "name", name=op.f("uq_volunteer_teams_street_id_name")),
    )
    with op.batch_alter_table("volunteer_teams", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteer_teams_street_id"), ["street_id"], unique=False
        )

    op.create_table(
        "shop_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("partner_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("price", sa.Integer(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('goods', 'service')", name=op.f("ck_shop_items_kind")),
        sa.CheckConstraint("price > 0", name=op.f("ck_shop_items_price")),
        sa.CheckConstraint("stock >= 0", name=op.f("ck_shop_items_stock")),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_shop_items_community_id_communities"),
        ),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partner_units.id"],
            name=op.f("fk_shop_items_partner_id_partner_units"),
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_shop_items_street_id_streets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_items")),
    )
    with op.batch_alter_table("shop_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_items_street_id"), ["street_id"], unique=False)

    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("helper_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["helpers.id"], name=op.f("fk_team_members_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["team_id"],
            ["volunteer_teams.id"],
            name=op.f("fk_team_members_team_id_volunteer_teams"),
        ),
        sa.PrimaryKeyConstraint("team_id", "helper_id", name=op.f("pk_team_members")),
    )
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_members_helper_id"), ["helper_id"], unique=False)

    op.create_table(
        "wishes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("resident_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("posted_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("claim_helper_id", sa.Integer(), nullable=True),
        sa.Column("claim_team_id", sa.Integer(), nullable=True),
        sa.Column("claim_partner_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "(status IN ('claimed', 'confirmed')) = "
            "(claim_helper_id IS NOT NULL OR claim_partner_id IS NOT NULL)",
            name=op.f("ck_wishes_claimant"),
        ),
        sa.CheckConstraint("kind IN ('thing', 'service')", name=op.f("ck_wishes_kind")),
        sa.CheckConstraint(
            "status IN ('open', 'claimed', 'confirmed', 'cancelled')", name=op.f("ck_wishes_status")
        ),
        sa.CheckConstraint(
            "claim_partner_id IS NULL OR (claim_helper_id IS NULL AND claim_team_id IS NULL)",
            name=op.f("ck_wishes_one_claimant"),
        ),
        sa.CheckConstraint(
            "claim_team_id IS NULL OR claim_helper_id IS NOT NULL", name=op.f("ck_wishes_team_by")
        ),
        sa.CheckConstraint("points >= 0", name=op.f("ck_wishes_points")),
        sa.ForeignKeyConstraint(
            ["claim_helper_id"], ["helpers.id"], name=op.f("fk_wishes_claim_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["claim_partner_id"],
            ["partner_units.id"],
            name=op.f("fk_wishes_claim_partner_id_partner_units"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_team_id"],
            ["volunteer_teams.id"],
            name=op.f("fk_wishes_claim_team_id_volunteer_teams"),
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by"], ["users.id"], name=op.f("fk_wishes_confirmed_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["posted_by"], ["users.id"], name=op.f("fk_wishes_posted_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"], ["residents.id"], name=op.f("fk_wishes_resident_id_residents")
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_wishes_street_id_streets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wishes")),
    )
    with op.batch_alter_table("wishes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wishes_claim_helper_id"), ["claim_helper_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_wishes_resident_id"), ["resident_id"], unique=False)
        batch_op.create_index("ix_wishes_street_id_status", ["street_id", "status"], unique=False)

    op.create_table(
        "redemptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("helper_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("debit_entry_id", sa.Integer(), nullable=False),
        sa.Column("refund_entry_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "(status = 'cancelled') = (refund_entry_id IS NOT NULL)",
            name=op.f("ck_redemptions_refund"),
        ),
        sa.CheckConstraint(
            "status IN ('issued', 'used', 'cancelled')", name=op.f("ck_redemptions_status")
        ),
        sa.CheckConstraint("points > 0", name=op.f("ck_redemptions_points")),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_redemptions_quantity")),
        sa.ForeignKeyConstraint(
            ["cancelled_by"], ["users.id"], name=op.f("fk_redemptions_cancelled_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_redemptions_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["debit_entry_id"],
            ["points_entries.id"],
            name=op.f("fk_redemptions_debit_entry_id_points_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["helpers.id"], name=op.f("fk_redemptions_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["item_id"], ["shop_items.id"], name=op.f("fk_redemptions_item_id_shop_items")
        ),
        sa.ForeignKeyConstraint(
            ["refund_entry_id"],
            ["points_entries.id"],
            name=op.f("fk_redemptions_refund_entry_id_points_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["street_id"], ["streets.id"], name=op.f("fk_redemptions_street_id_streets")
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["users.id"], name=op.f("fk_redemptions_used_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemptions")),
        sa.UniqueConstraint("code", name=op.f("uq_redemptions_code")),
        sa.UniqueConstraint("debit_entry_id", name=op.f("uq_redemptions_debit_entry_id")),
        sa.UniqueConstraint("refund_entry_id", name=op.f("uq_redemptions_refund_entry_id")),
    )
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_redemptions_helper_id"), ["helper_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_redemptions_item_id"), ["item_id"], unique=False)

    op.create_table(
        "wish_payments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("wish_id", sa.Integer(), nullable=False),
        sa.Column("helper_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["points_entries.id"],
            name=op.f("fk_wish_payments_entry_id_points_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["helper_id"], ["helpers.id"], name=op.f("fk_wish_payments_helper_id_helpers")
        ),
        sa.ForeignKeyConstraint(
            ["wish_id"], ["wishes.id"], name=op.f("fk_wish_payments_wish_id_wishes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wish_payments")),
        sa.UniqueConstraint("entry_id", name=op.f("uq_wish_payments_entry_id")),
        sa.UniqueConstraint(
            "wish_id", "helper_id", name=op.f("uq_wish_payments_wish_id_helper_id")
        ),
    )
    with op.batch_alter_table("wish_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wish_payments_wish_id"), ["wish_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wish_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wish_payments_wish_id"))

    op.drop_table("wish_payments")
    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redemptions_item_id"))
        batch_op.drop_index(batch_op.f("ix_redemptions_helper_id"))

    op.drop_table("redemptions")
    with op.batch_alter_table("wishes", schema=None) as batch_op:
        batch_op.drop_index("ix_wishes_street_id_status")
        batch_op.drop_index(batch_op.f("ix_wishes_resident_id"))
        batch_op.drop_index(batch_op.f("ix_wishes_claim_helper_id"))

    op.drop_table("wishes")
    with op.batch_alter_table("team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_members_helper_id"))

    op.drop_table("team_members")
    with op.batch_alter_table("shop_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_items_street_id"))

    op.drop_table("shop_items")
    with op.batch_alter_table("volunteer_teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_teams_street_id"))

    op.drop_table("volunteer_teams")
    with op.batch_alter_table("partner_units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_units_street_id"))

    op.drop_table("partner_units")
