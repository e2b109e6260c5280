"""Timer rows (`sla_timers`): each reminder and escalation a ticket's clocks plan, and `TimerStore`,
the scheduler's data store in APScheduler 4's vocabulary (`acquire`, `release`, `next_run_time`).

A claim is a lease in its own columns: `claimed_by` (the replica) and `lease_until`. `acquire`
takes pending rows whose `run_at` has come, and claimed rows whose `lease_until` has passed (the
replica holding them died); `run_at` stays when the timer should run (`due_at`, or the next retry).
`sync_timers` runs in the transaction that changes a ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence, cast

from sqlalchemy import Select, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from rules.notifications import Notification, planned_notifications, still_applies
from rules.policy import Plan
from rules.sla import SlaStatus
from storage.db import lease_rows, rowcount
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
        if r.state == "pending" and not still_applies(status, r.clock, r.kind, r.deadline):
            r.state, r.error = "dropped", "moot: the clock changed"
    for n in planned_notifications(status, plan.notifications):
        if n.key not in known:
            s.add(timer_row(ticket_id, n))


_SAME = ("kind", "clock", "level", "notify", "label", "repeat")  # a Notification's fields a timer row stores as is


def timer_row(ticket_id: int, n: Notification) -> SlaTimer:
    """A planned notification as a pending timer row (`due_at` = `run_at` = when it is due)."""
    same = {f: getattr(n, f) for f in _SAME}
    return SlaTimer(
        ticket_id=ticket_id, key=n.key, deadline=n.due, due_at=n.at, run_at=n.at, state="pending", attempts=0, late=False, **same
    )


def notice(row: Any) -> Notification:
    """A stored timer as the notification it was planned from (rules.notifications' vocabulary)."""
    return Notification(at=row.due_at, due=row.deadline, **{f: getattr(row, f) for f in _SAME})


def acquire_query(now: datetime, limit: int) -> Select[SlaTimer]:
    """Runnable timers: pending ones whose time has come, and claimed ones whose lease has run out."""
    return (
        select(SlaTimer)
        .where(
            or_(
                and_(SlaTimer.state == "pending", SlaTimer.run_at <= now),
                and_(SlaTimer.state == "claimed", SlaTimer.lease_until <= now),
            )
        )
        .order_by(SlaTimer.run_at)
        .limit(limit)
    )


@dataclass
class Release:
    """What became of one acquired timer (APScheduler's JobResult): sent, dropped, failed, or pending again."""

    row: SlaTimer
    state: str  # sent, dropped, failed, or pending (a retry at `run_at`)
    error: str | None = None
    channel: str | None = None
    ts: str | None = None
    sent_at: datetime | None = None
    late: bool = False
    run_at: datetime | None = None
    counter: str = ""  # which TickResult counter it adds to
    repeat: Notification | None = None  # the last escalation level's next ping, planned once this one is sent

    def __post_init__(self) -> None:
        self.counter = self.counter or {"sent": "sent", "dropped": "dropped", "failed": "failed", "pending": "retried"}[self.state]

    def params(self) -> dict[str, Any]:
        return {
            "b_id": self.row.id,
            "b_state": self.state,
            "b_error": self.error,
            "b_channel": self.channel,
            "b_ts": self.ts,
            "b_sent_at": self.sent_at,
            "b_late": self.late,
        }


@dataclass
class TimerStore:
    """The scheduler's data store: acquire due timers under a lease, release them with their outcome."""

    sessions: async_sessionmaker[AsyncSession]
    replica_id: str
    lease: timedelta

    async def acquire(self, now: datetime, limit: int) -> tuple[list[SlaTimer], datetime | None]:
        """Claim up to `limit` runnable timers for this replica until `now + lease`.

        Returns them and, when fewer than `limit` were runnable, the next instant one will be.
        On PostgreSQL the rows are locked with SKIP LOCKED: two replicas never take the same row.
        """
        async with self.sessions() as s:
            rows = await lease_rows(s, acquire_query(now, limit), self.replica_id, now + self.lease)
            next_run = await self._next_run_time(s) if len(rows) < limit else None
            await s.commit()
            return rows, next_run

    async def extend_leases(self, ids: Sequence[int], until: datetime) -> int:
        """Heartbeat: keep holding these timers while their posts are still in flight."""
        t = cast(Table, SlaTimer.__table__)
        async with self.sessions() as s:
            res = await s.execute(
                update(t).where(t.c.id.in_(list(ids)), t.c.claimed_by == self.replica_id, t.c.state == "claimed").values(lease_until=until)
            )
            await s.commit()
            return rowcount(res)

    @staticmethod
    async def _next_run_time(s: AsyncSession) -> datetime | None:
        """The earliest pending run_at or claimed lease_until: one index probe each."""
        t = cast(Table, SlaTimer.__table__)
        firsts = [
            select(func.min(t.c.run_at)).where(t.c.state == "pending").scalar_subquery(),
            select(func.min(t.c.lease_until)).where(t.c.state == "claimed").scalar_subquery(),
        ]
        values = (await s.execute(select(*firsts))).one()
        found = [v for v in values if v is not None]  # typed by the column: aware UTC datetimes
        return min(found) if found else None

    async def load(self, ticket_ids: Sequence[int], now: datetime) -> tuple[dict[int, Ticket], list[Any]]:
        """The batch's tickets with their events, and every timer of theirs already due (to fold against)."""
        async with self.sessions() as s:
            tickets = (
                (await s.execute(select(Ticket).where(Ticket.id.in_(ticket_ids)).options(selectinload(Ticket.events)))).scalars().all()
            )
            due = (
                await s.execute(
                    select(
                        SlaTimer.id,
                        SlaTimer.ticket_id,
                        SlaTimer.kind,
                        SlaTimer.clock,
                        SlaTimer.due_at,
                        SlaTimer.deadline,
                        SlaTimer.level,
                        SlaTimer.notify,
                        SlaTimer.label,
                        SlaTimer.repeat,
                    ).where(
                        SlaTimer.ticket_id.in_(ticket_ids),
                        SlaTimer.due_at <= now,
                        SlaTimer.state.in_(("pending", "claimed", "sent")),
                    )
                )
            ).all()
        return {t.id: t for t in tickets}, list(due)

    async def hand_back(self, rows: Sequence[SlaTimer], now: datetime) -> int:
        """Give back claimed timers this replica will not post (it is shutting down).

        Their lease ends now, so any replica takes them at its next tick
        instead of after the lease; the claim's attempt is undone, as nothing
        was posted.
        """
        if not rows:
            return 0
        t = cast(Table, SlaTimer.__table__)
        async with self.sessions() as s:
            result = await s.execute(
                update(t)
                .where(t.c.id.in_([r.id for r in rows]), t.c.claimed_by == self.replica_id, t.c.state == "claimed")
                .values(state="pending", claimed_by=None, lease_until=None, run_at=now, attempts=t.c.attempts - 1)
            )
            await s.commit()
        return rowcount(result)

    async def release(self, releases: Sequence[Release]) -> None:
        """Record a batch's outcomes in a few statements; only rows this replica still holds change."""
        if not releases:
            return
        t = cast(Table, SlaTimer.__table__)
        held = (t.c.id == bindparam("b_id")) & (t.c.claimed_by == self.replica_id) & (t.c.state == "claimed")
        finished = [r for r in releases if r.state != "pending"]
        retried = [r for r in releases if r.state == "pending"]
        repeats = [(r.row.ticket_id, r.repeat) for r in releases if r.state == "sent" and r.repeat is not None]
        async with self.sessions() as s:
            if finished:
                await s.execute(
                    update(t)
                    .where(held)
                    .values(
                        state=bindparam("b_state"),
                        error=bindparam("b_error"),
                        lease_until=None,
                        message_channel=bindparam("b_channel"),
                        message_ts=bindparam("b_ts"),
                        sent_at=bindparam("b_sent_at"),
                        late=bindparam("b_late"),
                    ),
                    [r.params() for r in finished],
                )
            if retried:
                await s.execute(
                    update(t)
                    .where(held)
                    .values(state="pending", error=bindparam("b_error"), lease_until=None, run_at=bindparam("b_run_at")),
                    [{"b_id": r.row.id, "b_error": r.error, "b_run_at": r.run_at} for r in retried],
                )
            if repeats:
                existing = set(
                    (
                        await s.execute(select(SlaTimer.ticket_id, SlaTimer.key).where(SlaTimer.ticket_id.in_({tid for tid, _ in repeats})))
                    ).all()
                )
                s.add_all(timer_row(tid, n) for tid, n in repeats if n is not None and (tid, n.key) not in existing)
            await s.commit()
