"""tickets by customer: an index on (customer_id, opened_at) for the quota COUNT and per-customer reports"""

from alembic import op

revision = "0005_tickets_by_customer"
down_revision = "0004_utc_timer_keys"


def upgrade() -> None:
    op.create_index("ix_tickets_customer_opened", "tickets", ["customer_id", "opened_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_customer_opened", table_name="tickets")
