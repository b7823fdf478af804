"""short share links: a short code per guide and session (or clip), mapped to the signed share
code, revocable

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "short_links",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("guide_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("clip_id", sa.String(length=64), nullable=True),
        sa.Column("share_code", sa.Text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("expires_ms", sa.BigInteger(), nullable=False),
        sa.Column("revoked_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_index(
        "ix_short_links_guide", "short_links", ["brand", "guide_id", "session_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_short_links_guide", table_name="short_links")
    op.drop_table("short_links")
