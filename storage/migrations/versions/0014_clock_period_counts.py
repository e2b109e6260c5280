"""sla_clocks: how many of the update clock's periods closed, and how many by their deadline, so the App Home's
month line sums them in SQL instead of decoding every ticket's periods. Backfilled from the stored periods."""

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0014_clock_period_counts"
down_revision = "0013_tickets_earliest_due"


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("periods_closed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("periods_met", sa.Integer(), nullable=True))
    conn = op.get_bind()
    counted = []
    for row_id, periods in conn.execute(sa.text("SELECT id, periods FROM sla_clocks WHERE periods IS NOT NULL")):
        periods = (json.loads(periods) if isinstance(periods, str) else periods) or []  # JSON null: none
        met = sum(1 for p in periods if p.get("stopped_at") and _instant(p["stopped_at"]) <= _instant(p["due"]))
        counted.append({"row_id": row_id, "closed": len(periods), "met": met})
    if counted:
        conn.execute(sa.text("UPDATE sla_clocks SET periods_closed = :closed, periods_met = :met WHERE id = :row_id"), counted)


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_column("periods_met")
        batch_op.drop_column("periods_closed")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
