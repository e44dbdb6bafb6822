"""A user's own language: ``users.language`` (a locale such as ``zh_CN`` or ``en``; NULL = no
choice, the language cookie and the browser decide). Chosen from the pages' language switch
or ``PUT /auth/me/language``; read with the login on every signed-in request, so it costs no
query of its own.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as table:
        table.drop_column("language")
