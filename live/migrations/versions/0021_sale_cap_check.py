"""sales: CHECK sold_qty <= stock_cap, which the order writer's one-statement batch relies on

Revision ID: 0021
Revises: 0019
"""

from alembic import op

revision = "0021"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.create_check_constraint("ck_sales_sold_within_cap", "sold_qty <= stock_cap")


def downgrade() -> None:
    with op.batch_alter_table("sales", schema=None) as batch_op:
        batch_op.drop_constraint("ck_sales_sold_within_cap", type_="check")
