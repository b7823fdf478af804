"""brand_policies.language: the language of a brand's pages (en, zh-CN; NULL: the browser's)

Revision ID: 0020
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("brand_policies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("brand_policies", schema=None) as batch_op:
        batch_op.drop_column("language")
