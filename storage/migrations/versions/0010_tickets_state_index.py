"""tickets: index (state, plan_id) for the open-tickets-per-plan count at each /metrics scrape"""

from alembic import op

revision = "0010_tickets_state_index"
down_revision = "0009_customer_thread"


def upgrade() -> None:
    op.create_index("ix_tickets_state_plan", "tickets", ["state", "plan_id"])


def downgrade() -> None:
    op.drop_index("ix_tickets_state_plan", table_name="tickets")
