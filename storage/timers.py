"""Timer rows (`sla_timers`): each reminder and escalation a ticket's clocks plan, and the scheduler's
claim, next-due look-up, batch load and record of outcomes.

`sync_timers` runs in the transaction that changes a ticket. `TimerStore` is
mixed into `bot.scheduler.SlaScheduler`, which sets `services`, `replica_id`,
`batch_size`, `lease` and `next_due` (see its module for the exactly-once rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from rules.notifications import Notification, next_repeat, planned_notifications, still_applies
from rules.policy import Plan
from rules.sla import SlaStatus
from storage.db import StoreContext
from storage.models import SlaTimer, Ticket


async def sync_timers(s: AsyncSession, ticket_id: int, status: SlaStatus, plan: Plan) -> None:
    """Bring a ticket's timer rows in line with its clocks, in the same transaction as the change.

    Pending rows that no longer apply are dropped at once; planned ones not yet
    stored are added (a key that was ever stored is never stored again, so a
    sent reminder is never planned twice).
    """
    rows = (await s.execute(select(SlaTimer).where(SlaTimer.ticket_id == ticket_id))).scalars().all()
    known = {r.key for r in rows}
    for r in rows:
        if r.state == "pending" and not still_applies(status, r.clock, r.kind, r.deadline):  # type: ignore[arg-type]
            r.state, r.error = "dropped", "moot: the clock changed"
    for n in planned_notifications(status, plan.notifications):
        if n.key not in known:
            s.add(timer_row(ticket_id, n))


def timer_row(ticket_id: int, n: Notification) -> SlaTimer:
    return SlaTimer(
        ticket_id=ticket_id,
        key=n.key,
        clock=n.clock,
        kind=n.kind,
        level=n.level,
        notify=n.notify,
        label=n.label,
        repeat=n.repeat,
        deadline=n.due,
        due_at=n.at,
        run_at=n.at,
        state="pending",
        attempts=0,
        late=False,
    )


class TimerStore:
    """The scheduler's queries (mixed into `bot.scheduler.SlaScheduler`)."""

    services: StoreContext
    replica_id: str
    batch_size: int
    lease: timedelta
    next_due: datetime | None

    # -- claiming ------------------------------------------------------------------------
    async def claim(self, now: datetime) -> list[SlaTimer]:
        async with self.services.sessions() as s:
            query = (
                select(SlaTimer)
                .where(SlaTimer.state.in_(("pending", "claimed")), SlaTimer.run_at <= now)
                .order_by(SlaTimer.run_at)
                .limit(self.batch_size)
            )
            if s.bind.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = list((await s.execute(query)).scalars())
            for row in rows:
                row.state = "claimed"
                row.claimed_by = self.replica_id
                row.lease_until = row.run_at = now + self.lease
                row.attempts += 1
            if len(rows) < self.batch_size:
                self.next_due = await self._next_run_at(s)
            await s.commit()
            return rows

    @staticmethod
    async def _next_run_at(s: Any) -> datetime | None:
        """The earliest run_at of any pending or claimed timer: one index probe per state."""
        t = SlaTimer.__table__
        firsts = [
            select(func.min(t.c.run_at)).where(t.c.state == state).scalar_subquery() for state in ("pending", "claimed")
        ]
        values = (await s.execute(select(*firsts))).one()
        found = [v for v in values if v is not None]  # typed by the column: aware UTC datetimes
        return min(found) if found else None

    async def _load(self, ticket_ids: list[int], now: datetime) -> tuple[dict[int, Ticket], dict[tuple[int, str, datetime], tuple[datetime, int]]]:
        """The batch's tickets with their events, and per clock and deadline the latest notice already due."""
        async with self.services.sessions() as s:
            tickets = (
                await s.execute(select(Ticket).where(Ticket.id.in_(ticket_ids)).options(selectinload(Ticket.events)))
            ).scalars().all()
            due = (
                await s.execute(
                    select(SlaTimer.ticket_id, SlaTimer.clock, SlaTimer.deadline, SlaTimer.due_at, SlaTimer.id).where(
                        SlaTimer.ticket_id.in_(ticket_ids),
                        SlaTimer.due_at <= now,
                        SlaTimer.state.in_(("pending", "claimed", "sent")),
                    )
                )
            ).all()
        newest: dict[tuple[int, str, datetime], tuple[datetime, int]] = {}
        for ticket_id, clock, deadline, due_at, timer_id in due:
            key = (ticket_id, clock, deadline)
            if key not in newest or (due_at, timer_id) > newest[key]:
                newest[key] = (due_at, timer_id)
        return {t.id: t for t in tickets}, newest

    async def _record(self, outcomes: list["_Outcome"], now: datetime) -> None:
        """All outcomes of a batch in a few statements. Only rows this replica still holds are changed."""
        if not outcomes:
            return
        t = SlaTimer.__table__
        held = (t.c.id == bindparam("b_id")) & (t.c.claimed_by == self.replica_id) & (t.c.state == "claimed")
        finished = [o for o in outcomes if o.state != "pending"]
        retried = [o for o in outcomes if o.state == "pending"]
        repeats = [n for o in outcomes if o.state == "sent" and (n := o.next_repeat()) is not None]
        async with self.services.sessions() as s:
            if finished:
                await s.execute(
                    update(t).where(held).values(
                        state=bindparam("b_state"), error=bindparam("b_error"), lease_until=None,
                        message_channel=bindparam("b_channel"), message_ts=bindparam("b_ts"),
                        sent_at=bindparam("b_sent_at"), late=bindparam("b_late"),
                    ),
                    [o.params() for o in finished],
                )
            if retried:
                await s.execute(
                    update(t).where(held).values(state="pending", error=bindparam("b_error"), lease_until=None, run_at=bindparam("b_run_at")),
                    [{"b_id": o.row.id, "b_error": o.error, "b_run_at": o.run_at} for o in retried],
                )
            if repeats:
                keys = {(tid, n.key) for tid, n in repeats}
                existing = set(
                    (await s.execute(
                        select(SlaTimer.ticket_id, SlaTimer.key).where(SlaTimer.ticket_id.in_({tid for tid, _ in repeats}))
                    )).all()
                )
                s.add_all(timer_row(tid, n) for tid, n in repeats if (tid, n.key) not in existing and (tid, n.key) in keys)
            await s.commit()


@dataclass
class _Outcome:
    row: SlaTimer
    state: str  # sent, dropped, failed, or pending (a retry)
    error: str | None = None
    channel: str | None = None
    ts: str | None = None
    sent_at: datetime | None = None
    late: bool = False
    run_at: datetime | None = None
    counter: str = ""
    plan: Any = None

    def __post_init__(self) -> None:
        self.counter = self.counter or {"sent": "sent", "dropped": "dropped", "failed": "failed", "pending": "retried"}[self.state]

    def params(self) -> dict[str, Any]:
        return {
            "b_id": self.row.id, "b_state": self.state, "b_error": self.error, "b_channel": self.channel,
            "b_ts": self.ts, "b_sent_at": self.sent_at, "b_late": self.late,
        }

    def next_repeat(self) -> tuple[int, Notification] | None:
        """The last escalation level pings again until someone acts."""
        r = self.row
        sent = Notification(
            kind=r.kind, clock=r.clock, at=r.due_at, due=r.deadline,  # type: ignore[arg-type]
            level=r.level, notify=r.notify, label=r.label, repeat=r.repeat,
        )
        nxt = next_repeat(sent, self.plan.notifications) if self.plan is not None else None
        return (r.ticket_id, nxt) if nxt is not None else None
