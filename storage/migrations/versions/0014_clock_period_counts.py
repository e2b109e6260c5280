"""sla_clocks: how many of the update clock's periods closed, and how many by their deadline, so the App Home's
month line sums them in SQL instead of decoding every ticket's periods. Backfilled from the stored periods."""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0014_clock_period_counts"
down_revision = "0013_tickets_earliest_due"

_clocks = sa.table(
    "sla_clocks",
    sa.column("id", sa.Integer),
    sa.column("periods", sa.JSON),
    sa.column("periods_closed", sa.Integer),
    sa.column("periods_met", sa.Integer),
)


def upgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("periods_closed", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("periods_met", sa.Integer(), nullable=True))
    conn = op.get_bind()
    counted = []
    for row_id, periods in conn.execute(sa.select(_clocks.c.id, _clocks.c.periods).where(_clocks.c.periods.is_not(None))):
        periods = periods or []  # JSON null
        met = sum(1 for p in periods if p.get("stopped_at") and _instant(p["stopped_at"]) <= _instant(p["due"]))
        counted.append({"row_id": row_id, "closed": len(periods), "met": met})
    if counted:
        conn.execute(
            _clocks.update()
            .where(_clocks.c.id == sa.bindparam("row_id"))
            .values(periods_closed=sa.bindparam("closed"), periods_met=sa.bindparam("met")),
            counted,
        )


def downgrade() -> None:
    with op.batch_alter_table("sla_clocks", schema=None) as batch_op:
        batch_op.drop_column("periods_met")
        batch_op.drop_column("periods_closed")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)
