"""reservations: scheduled sessions' start time, viewers' reservations and brands' reminder lead

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("starts_ms", sa.BigInteger(), nullable=True))
    op.create_table(
        "reservations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=32), nullable=False),
        sa.Column("viewer_id", sa.String(length=64), nullable=False),
        sa.Column("viewer_name", sa.String(length=200), nullable=True),
        sa.Column("guide_id", sa.String(length=64), nullable=True),
        sa.Column("guide_store", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.Column("lead_reminded_ms", sa.BigInteger(), nullable=True),
        sa.Column("start_reminded_ms", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "viewer_id"),
    )
    op.create_index("ix_reservations_guide", "reservations", ["brand", "guide_id", "session_id"])
    op.create_index("ix_reservations_session", "reservations", ["session_id", "status"])
    op.create_index("ix_reservations_lead_due", "reservations", ["session_id", "lead_reminded_ms"])
    op.create_index(
        "ix_reservations_start_due", "reservations", ["session_id", "start_reminded_ms"]
    )
    op.create_table(
        "reminder_policies",
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("lead_s", sa.Integer(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("brand"),
    )


def downgrade() -> None:
    op.drop_table("reminder_policies")
    op.drop_index("ix_reservations_start_due", table_name="reservations")
    op.drop_index("ix_reservations_lead_due", table_name="reservations")
    op.drop_index("ix_reservations_session", table_name="reservations")
    op.drop_index("ix_reservations_guide", table_name="reservations")
    op.drop_table("reservations")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("starts_ms")
