"""Tickets worked in a triage channel keep a thread in the customer's channel: what the customer sees."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_customer_thread"
down_revision = "0008_timer_lease_index"


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_thread_ts", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_tickets_customer_thread", ["channel_id", "customer_thread_ts"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_customer_thread")
        batch_op.drop_column("customer_thread_ts")
