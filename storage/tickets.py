"""Tickets as stored: look-ups, their clock rows, the event log as the SLA engine reads it,
and the Slack event ids already handled.

`TicketStore` is mixed into `bot.services.Services`, which gives it `sessions`,
`policies` and `clock`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from rules.actions import _ENGINE_KIND
from rules.clock import Clock
from rules.errors import ServiceError
from rules.policy import Plan, PolicySet
from rules.sla import SlaStatus, TicketEvent, evaluate
from storage.models import ProcessedSlackEvent, SlaClockRow, Ticket, TicketEventRow


class TicketStore:
    """Ticket queries of `bot.services.Services`."""

    sessions: async_sessionmaker[AsyncSession]
    policies: PolicySet
    clock: Clock

    async def first_time_event(self, event_id: str) -> bool:
        """Record a Slack event id; False when it was already handled (a Slack retry)."""
        async with self.sessions() as s:
            s.add(ProcessedSlackEvent(event_id=event_id, received_at=self.clock.now()))
            try:
                await s.commit()
            except IntegrityError:
                return False
            return True

    async def _by_key(self, s: AsyncSession, key: str) -> Ticket | None:
        return (await s.execute(select(Ticket).where(Ticket.idempotency_key == key))).scalar_one_or_none()

    async def set_announcement(self, ticket_id: int, channel_id: str, ts: str) -> None:
        async with self.sessions() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None:
                raise ServiceError(f"no ticket INC-{ticket_id}")
            ticket.announce_channel_id, ticket.thread_ts = channel_id, ts
            await s.commit()

    async def ticket_by_thread(self, channel_id: str, thread_ts: str) -> Ticket | None:
        async with self.sessions() as s:
            return (
                await s.execute(select(Ticket).where(Ticket.announce_channel_id == channel_id, Ticket.thread_ts == thread_ts))
            ).scalar_one_or_none()

    async def get_ticket(self, key: str | int) -> Ticket:
        ticket_id = _ticket_number(key)
        async with self.sessions() as s:
            ticket = (
                await s.execute(
                    select(Ticket).where(Ticket.id == ticket_id).options(selectinload(Ticket.events), selectinload(Ticket.clocks))
                )
            ).scalar_one_or_none()
            if ticket is None:
                raise ServiceError(f"no ticket INC-{ticket_id}")
            return ticket

    async def status_of(self, ticket: Ticket, now: datetime | None = None) -> SlaStatus:
        plan = self.policies.plan(ticket.plan_id)
        async with self.sessions() as s:
            rows = (
                await s.execute(select(TicketEventRow).where(TicketEventRow.ticket_id == ticket.id).order_by(TicketEventRow.id))
            ).scalars().all()
        return evaluate_ticket(plan, ticket, rows, now or self.clock.now())

    def _store_clocks(self, s: AsyncSession, ticket: Ticket, status: SlaStatus, existing: list[SlaClockRow]) -> None:
        by_name = {c.clock: c for c in existing}
        for name, clock in status.clocks.items():
            row = by_name.get(name) or SlaClockRow(ticket_id=ticket.id, clock=name)
            row.status = clock.status.value
            row.target_minutes = int(clock.target.total_seconds() // 60) if clock.target is not None else None
            row.due_at = clock.due
            row.stopped_at = clock.stopped_at
            if name not in by_name:
                s.add(row)


def evaluate_ticket(plan: Plan, ticket: Ticket, rows: Sequence[TicketEventRow], now: datetime) -> SlaStatus:
    """A stored ticket's clocks: its first classification, then its event log, at `now`."""
    first_severity = next((r.severity for r in rows if r.kind == "classified" and r.severity), ticket.severity)
    return evaluate(plan, first_severity, ticket.opened_at, engine_events(rows), now, ticket.priority)


def engine_events(rows: Sequence[TicketEventRow]) -> list[TicketEvent]:
    out = []
    for r in rows:
        kind = _ENGINE_KIND.get(r.kind)
        if kind is None:
            continue
        out.append(
            TicketEvent(
                kind=kind,  # type: ignore[arg-type]
                at=r.at,
                severity=r.severity,
                next_update_at=r.next_update_at,
                clock=(r.data or {}).get("clock"),
            )
        )
    return out


def _ticket_number(key: str | int) -> int:
    if isinstance(key, int):
        return key
    text = key.strip().upper().removeprefix("INC-")
    if not text.isdigit():
        raise ServiceError(f"{key!r} is not a ticket id (like INC-42)")
    return int(text)
