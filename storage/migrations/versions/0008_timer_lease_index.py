"""The scheduler's claim reads the lease from its own column: claimed timers whose `lease_until` has
passed are runnable again (before, `run_at` was overwritten with the lease's end). An index on
(state, lease_until) keeps that half of the claim, and the next-due look-up, one index probe.
"""

from __future__ import annotations

from alembic import op

revision = "0008_timer_lease_index"
down_revision = "0007_report_drafts"


def upgrade() -> None:
    with op.batch_alter_table("sla_timers") as batch_op:
        batch_op.create_index("ix_sla_timers_lease", ["state", "lease_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_timers") as batch_op:
        batch_op.drop_index("ix_sla_timers_lease")
