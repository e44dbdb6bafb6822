"""Follow-up visits by rule per street, and messages to any user (issue 11).

- ``streets``: the follow-up rules (``follow_up_categories``: resident categories whose every
  confirmed order is followed up; ``follow_up_sample_percent``: the share of the other orders;
  ``follow_up_days``: due this many days after the visit, None: the service's setting).
- ``follow_ups``: why each was scheduled (``reason``: existing ones came from a low score) and
  who answers for it (``owner_id``); one per order and reason.
- ``notifications``: ``user_id`` beside ``helper_id`` (never both), and the kinds the result
  fed back and the owners' messages need (the kind CHECK is written again).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.statuses import FollowUpReason, NotificationKind, sql_in

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# The kinds before this revision (a downgrade writes their CHECK back).
OLD_KINDS = ("offer", "reminder", "change", "cancellation")
ONE_RECIPIENT = "helper_id IS NULL OR user_id IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("streets") as table:
        table.add_column(
            sa.Column(
                "follow_up_categories", sa.JSON(), server_default=sa.text("'[]'"), nullable=False
            )
        )
        table.add_column(
            sa.Column("follow_up_sample_percent", sa.Integer(), server_default="0", nullable=False)
        )
        table.add_column(sa.Column("follow_up_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("follow_ups") as table:
        table.add_column(
            sa.Column(
                "reason",
                sa.String(length=16),
                server_default=FollowUpReason.LOW_SCORE.value,
                nullable=False,
            )
        )
        table.add_column(sa.Column("owner_id", sa.Integer(), nullable=True))
        table.create_foreign_key(
            op.f("fk_follow_ups_owner_id_users"), "users", ["owner_id"], ["id"]
        )
        table.create_index(op.f("ix_follow_ups_owner_id"), ["owner_id"], unique=False)
        unique = op.f("uq_follow_ups_order_id_reason")
        table.create_unique_constraint(unique, ["order_id", "reason"])
        table.create_check_constraint("reason", sql_in("reason", FollowUpReason))
    with op.batch_alter_table("notifications") as table:
        table.add_column(sa.Column("user_id", sa.Integer(), nullable=True))
        table.create_foreign_key(
            op.f("fk_notifications_user_id_users"), "users", ["user_id"], ["id"]
        )
        table.create_index(op.f("ix_notifications_user_id"), ["user_id"], unique=False)
        table.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        table.create_check_constraint("kind", sql_in("kind", NotificationKind))
        table.create_check_constraint("one_recipient", ONE_RECIPIENT)


def downgrade() -> None:
    new_kinds = [kind.value for kind in NotificationKind if kind.value not in OLD_KINDS]
    op.execute(sa.text("DELETE FROM notifications WHERE kind IN :kinds").bindparams(
        sa.bindparam("kinds", new_kinds, expanding=True)
    ))  # fmt: skip
    op.execute("DELETE FROM notifications WHERE user_id IS NOT NULL")
    with op.batch_alter_table("notifications") as table:
        table.drop_constraint(op.f("ck_notifications_one_recipient"), type_="check")
        table.drop_constraint(op.f("ck_notifications_kind"), type_="check")
        quoted = ", ".join(f"'{kind}'" for kind in OLD_KINDS)
        table.create_check_constraint("kind", f"kind IN ({quoted})")
        table.drop_index(op.f("ix_notifications_user_id"))
        table.drop_constraint(op.f("fk_notifications_user_id_users"), type_="foreignkey")
        table.drop_column("user_id")
    op.execute("DELETE FROM follow_ups WHERE reason <> 'low_score'")
    with op.batch_alter_table("follow_ups") as table:
        table.drop_constraint(op.f("ck_follow_ups_reason"), type_="check")
        table.drop_constraint(op.f("uq_follow_ups_order_id_reason"), type_="unique")
        table.drop_index(op.f("ix_follow_ups_owner_id"))
        table.drop_constraint(op.f("fk_follow_ups_owner_id_users"), type_="foreignkey")
        table.drop_column("owner_id")
        table.drop_column("reason")
    with op.batch_alter_table("streets") as table:
        table.drop_column("follow_up_days")
        table.drop_column("follow_up_sample_percent")
        table.drop_column("follow_up_categories")
