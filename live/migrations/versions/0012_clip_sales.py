"""clip sales: orders bought from a clip, per-clip views, products' opening prices

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clip_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_orders_clip", ["clip_id"], unique=False)
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("opening_price_cents", sa.BigInteger(), nullable=True))
    op.create_table(
        "clip_views",
        sa.Column("clip_id", sa.String(length=64), nullable=False),
        sa.Column("viewer_id", sa.String(length=64), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("clip_id", "viewer_id"),
    )


def downgrade() -> None:
    op.drop_table("clip_views")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("opening_price_cents")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_clip")
        batch_op.drop_column("clip_id")
