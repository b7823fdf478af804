"""product media and variants: product images, variant groups and options, session cover and
video

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_url", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("group_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("options", sa.Text(), nullable=True))
        batch_op.create_index("ix_products_group", ["group_id"], unique=False)
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cover_url", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("video_url", sa.String(length=1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("video_url")
        batch_op.drop_column("cover_url")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_group")
        batch_op.drop_column("options")
        batch_op.drop_column("group_id")
        batch_op.drop_column("image_url")
