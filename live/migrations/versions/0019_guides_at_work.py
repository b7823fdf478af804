"""guides at work: questions to guides, guide coupon budgets, nudge coupons, the handoff delay

Revision ID: 0019
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
# Written beside 0018 (reservations, another branch) and after 0020 (the brand's language,
# merged first): here it follows 0020; merging 0018 rechains the three in one line.
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("viewer_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("guide_id", sa.String(length=64), nullable=True))
    with op.batch_alter_table("brand_policies", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("question_handoff_s", sa.Integer(), nullable=False, server_default="60")
        )
    op.create_table(
        "guide_questions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("viewer_id", sa.String(length=64), nullable=False),
        sa.Column("viewer_name", sa.String(length=200), nullable=True),
        sa.Column("guide_id", sa.String(length=64), nullable=True),
        sa.Column("comment_id", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asked_ms", sa.BigInteger(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=64), nullable=True),
        sa.Column("answered_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_guide_questions_session", "guide_questions", ["session_id", "asked_ms"])
    op.create_table(
        "guide_budgets",
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("guide_id", sa.String(length=64), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("value_cap_cents", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "guide_id"),
    )


def downgrade() -> None:
    op.drop_table("guide_budgets")
    op.drop_index("ix_guide_questions_session", table_name="guide_questions")
    op.drop_table("guide_questions")
    with op.batch_alter_table("brand_policies", schema=None) as batch_op:
        batch_op.drop_column("question_handoff_s")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_column("guide_id")
        batch_op.drop_column("viewer_id")
