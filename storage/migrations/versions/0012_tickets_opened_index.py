"""tickets: index on opened_at, so a period's report (every customer) reads just the period's tickets, not all of them"""

from alembic import op

revision = "0012_tickets_opened_index"
down_revision = "0011_processed_received_index"


def upgrade() -> None:
    op.create_index("ix_tickets_opened_at", "tickets", ["opened_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_opened_at", table_name="tickets")
