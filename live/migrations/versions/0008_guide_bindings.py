"""guide bindings: each viewer a guide's share code bound, for viewers brought and conversion

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guide_bindings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("guide_id", sa.String(length=64), nullable=False),
        sa.Column("viewer_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("bound_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guide_bindings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_guide_bindings_brand_guide", ["brand", "guide_id", "bound_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("guide_bindings", schema=None) as batch_op:
        batch_op.drop_index("ix_guide_bindings_brand_guide")
    op.drop_table("guide_bindings")
