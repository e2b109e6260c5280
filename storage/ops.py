"""What operators read from the stored state: open tickets and breached clocks per plan, timers running late,
and whether the schema is current. Cheap queries (grouped counts on indexed columns), for `/metrics`,
`/ready` and `triage-bot doctor`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import MIGRATIONS_DIR, current_revision
from storage.models import OutboxPost, SlaClockRow, SlaTimer, Ticket

LATE_AFTER = timedelta(minutes=1)
OUTBOX_STATES = ("pending", "claimed", "failed")  # sent rows only grow: not counted


@dataclass
class StoredState:
    open_tickets: dict[str, int] = field(default_factory=dict)
    breached_clocks: dict[str, int] = field(default_factory=dict)
    overdue_timers: int = 0
    outbox: dict[str, int] = field(default_factory=dict)  # posts owed to Slack: pending, claimed, failed


async def stored_state(sessions: async_sessionmaker[AsyncSession], now: datetime) -> StoredState:
    """Open tickets per plan; per plan the clocks running past their deadline; overdue timers."""
    async with sessions() as s:
        open_rows = (await s.execute(select(Ticket.plan_id, func.count()).where(Ticket.state != "resolved").group_by(Ticket.plan_id))).all()
        breached_rows = (
            await s.execute(
                select(Ticket.plan_id, func.count())
                .join(SlaClockRow, SlaClockRow.ticket_id == Ticket.id)
                .where(SlaClockRow.status == "running", SlaClockRow.due_at < now)  # the record's "breached now"
                .group_by(Ticket.plan_id)
            )
        ).all()
        overdue = await overdue_timers(s, now)
        outbox_rows = (
            await s.execute(select(OutboxPost.state, func.count()).where(OutboxPost.state.in_(OUTBOX_STATES)).group_by(OutboxPost.state))
        ).all()
    outbox = {state: 0 for state in OUTBOX_STATES} | {state: n for state, n in outbox_rows}
    return StoredState({p: n for p, n in open_rows}, {p: n for p, n in breached_rows}, overdue, outbox)


async def overdue_timers(s: AsyncSession, now: datetime, late_after: timedelta = LATE_AFTER) -> int:
    """Timers due more than `late_after` ago that nobody is delivering: pending, or claimed with a lease run out."""
    cutoff = now - late_after
    t = SlaTimer.__table__
    pending = select(func.count()).where(t.c.state == "pending", t.c.run_at <= cutoff).scalar_subquery()
    stale = select(func.count()).where(t.c.state == "claimed", t.c.run_at <= cutoff).scalar_subquery()
    return sum((await s.execute(select(pending, stale))).one())


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


async def ping(engine: AsyncEngine) -> None:
    """One round trip; raises what the driver raises when the database does not answer."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def schema_problem(engine: AsyncEngine) -> str | None:
    """None when the database answers and is at the newest migration; otherwise what is wrong, in one line."""
    try:
        await ping(engine)
        current = await current_revision(engine)
    except Exception as e:  # any driver error means "not answering"
        return f"database not answering ({type(e).__name__}: {e})"
    head = head_revision()
    if current != head:
        return f"database at migration {current or 'none'}, code expects {head}: run `triage-bot db upgrade`"
    return None
