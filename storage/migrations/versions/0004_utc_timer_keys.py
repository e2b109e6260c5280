"""Timer keys name their deadline in UTC: the engine now works in UTC instants, and a key written with the
plan's offset (`...T10:00:00+01:00`) would not match the same notice planned again (`...T09:00:00+00:00`),
so an already sent reminder would be planned a second time.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0004_utc_timer_keys"
down_revision = "0003_sla_clock_records"

_timers = sa.table(
    "sla_timers",
    sa.column("id", sa.Integer),
    sa.column("ticket_id", sa.Integer),
    sa.column("key", sa.String),
    sa.column("clock", sa.String),
    sa.column("kind", sa.String),
    sa.column("level", sa.Integer),
    sa.column("label", sa.String),
    sa.column("repeat", sa.Integer),
    sa.column("deadline", sa.DateTime(timezone=True)),
)


def _utc(v: datetime) -> datetime:
    return v.replace(tzinfo=timezone.utc) if v.tzinfo is None else v.astimezone(timezone.utc)


def upgrade() -> None:
    from rules.notifications import timer_key

    conn = op.get_bind()
    rows = conn.execute(sa.select(_timers).order_by(_timers.c.ticket_id, _timers.c.id)).all()
    taken: set[tuple[int, str]] = {(r.ticket_id, r.key) for r in rows}
    for r in rows:
        new = timer_key(r.clock, _utc(r.deadline), r.kind, r.level, r.label, r.repeat)
        if new == r.key:
            continue
        if (r.ticket_id, new) in taken:  # the same notice already stored under its UTC key: keep that one's identity
            new = f"{new}:older-{r.id}"
        taken.discard((r.ticket_id, r.key))
        taken.add((r.ticket_id, new))
        conn.execute(_timers.update().where(_timers.c.id == r.id).values(key=new))


def downgrade() -> None:
    pass  # keys stay in UTC form (the older code would plan the same notices again under zoned keys)
