"""payment providers: which provider took a payment, and its refund

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("provider", sa.String(length=16), nullable=False, server_default="notify")
        )
        batch_op.add_column(sa.Column("refund_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_orders_viewer", ["brand", "viewer_id", "created_ms"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_viewer")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("refund_id")
        batch_op.drop_column("provider")
