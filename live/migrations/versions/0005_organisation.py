"""organisation: a brand's stores and guides (with their upstream guide)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stores",
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("brand", "id"),
    )
    op.create_table(
        "guides",
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=True),
        sa.Column("upstream_guide_id", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("brand", "id"),
    )
    with op.batch_alter_table("guides", schema=None) as batch_op:
        batch_op.create_index("ix_guides_brand_store", ["brand", "store_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("guides", schema=None) as batch_op:
        batch_op.drop_index("ix_guides_brand_store")
    op.drop_table("guides")
    op.drop_table("stores")
