"""waitlists: viewers waiting for a sold-out product, offers of returned units; refunds that
put units back into stock

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waitlist_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("product_id", sa.String(length=32), nullable=False),
        sa.Column("viewer_id", sa.String(length=64), nullable=False),
        sa.Column("guide_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Integer(), nullable=True),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("joined_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("product_id", "viewer_id", "active"),
        sa.UniqueConstraint("session_id", "viewer_id", "slot"),
    )
    op.create_index(
        "ix_waitlist_entries_session", "waitlist_entries", ["session_id", "status"], unique=False
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("restocked_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("restocked_ms")
    op.drop_index("ix_waitlist_entries_session", table_name="waitlist_entries")
    op.drop_table("waitlist_entries")
