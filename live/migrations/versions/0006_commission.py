"""commission: brand plans, per-product overrides, and what each order earned

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "commission_plans",
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("rate_bp", sa.Integer(), nullable=False),
        sa.Column("upstream_rate_bp", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("brand"),
    )
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commission_bp", sa.Integer(), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upstream_guide_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("commission_cents", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("upstream_commission_cents", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("refunded_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("refunded_ms")
        batch_op.drop_column("upstream_commission_cents")
        batch_op.drop_column("commission_cents")
        batch_op.drop_column("upstream_guide_id")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("commission_bp")
    op.drop_table("commission_plans")
