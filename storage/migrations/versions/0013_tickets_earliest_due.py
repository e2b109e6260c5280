"""tickets: the earliest deadline and at-risk instant of each ticket's running clocks, indexed with its state,
so the status board counts open tickets in one index-only pass instead of grouping every running clock.
Existing tickets are backfilled from their clock records."""

import sqlalchemy as sa
from alembic import op

revision = "0013_tickets_earliest_due"
down_revision = "0012_tickets_opened_index"


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("earliest_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("earliest_at_risk_at", sa.DateTime(timezone=True), nullable=True))
    running = "c.ticket_id = tickets.id AND c.status = 'running' AND c.due_at IS NOT NULL"
    op.execute(
        "UPDATE tickets SET"
        f" earliest_due_at = (SELECT min(c.due_at) FROM sla_clocks c WHERE {running}),"
        f" earliest_at_risk_at = (SELECT min(c.at_risk_at) FROM sla_clocks c WHERE {running})"
    )
    op.create_index("ix_tickets_state_earliest", "tickets", ["state", "earliest_due_at", "earliest_at_risk_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_state_earliest", table_name="tickets")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("earliest_at_risk_at")
        batch_op.drop_column("earliest_due_at")
