"""brand policies: banned words and allowed origins per brand

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brand_policies",
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("banned_words", sa.Text(), nullable=False),
        sa.Column("banned_mode", sa.String(length=16), nullable=False),
        sa.Column("allowed_origins", sa.Text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("brand"),
    )


def downgrade() -> None:
    op.drop_table("brand_policies")
