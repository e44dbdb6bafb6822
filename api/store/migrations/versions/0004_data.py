"""Unmatched orders' explanations as data: ``run_unmatched.params`` (JSON, the matcher's
``WhyParams``) beside the reason; the stored sentences become optional.

Rows from before keep their sentences and get no params (a sentence cannot be turned back into
facts without parsing it); new rows store params only and leave the sentences empty (NULL).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_unmatched") as table:
        table.add_column(sa.Column("params", sa.JSON(), nullable=True))
        table.alter_column("explanation_zh", existing_type=sa.Text(), nullable=True)
        table.alter_column("explanation_en", existing_type=sa.Text(), nullable=True)


def downgrade() -> None:
    # Rows written since have no sentences; the older schema needs some text there.
    op.execute("UPDATE run_unmatched SET explanation_zh = '' WHERE explanation_zh IS NULL")
    op.execute("UPDATE run_unmatched SET explanation_en = '' WHERE explanation_en IS NULL")
    with op.batch_alter_table("run_unmatched") as table:
        table.alter_column("explanation_en", existing_type=sa.Text(), nullable=False)
        table.alter_column("explanation_zh", existing_type=sa.Text(), nullable=False)
        table.drop_column("params")
