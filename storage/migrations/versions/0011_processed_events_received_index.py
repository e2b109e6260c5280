"""processed_slack_events: index on received_at, so expired event ids and request keys are found without a scan"""

from alembic import op

revision = "0011_processed_received_index"
down_revision = "0010_tickets_state_index"


def upgrade() -> None:
    op.create_index("ix_processed_slack_events_received_at", "processed_slack_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_processed_slack_events_received_at", table_name="processed_slack_events")
