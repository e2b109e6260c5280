"""Tickets as stored: look-ups, their clock rows, the event log as the SLA engine reads it,
and the Slack event ids already handled.

`TicketStore` is mixed into `bot.services.Services`, which gives it `sessions`,
`policies` and `clock`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from sqlalchemy import Delete, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from rules.actions import ENGINE_KIND
from rules.actions import action as action_of
from rules.clock import Clock
from rules.clock_record import FrozenVerdict, clock_records, frozen_verdicts
from rules.errors import NotFound
from rules.inputs import parse_ticket_key
from rules.policy import Plan, PolicySet, TargetSet
from rules.sla import SlaStatus, TicketEvent, evaluate
from rules.terms import Terms, in_force, restore_all, snapshot, terms_from_plan
from storage.board import place_on_board
from storage.db import is_postgres, rowcount
from storage.models import OutboxPost, ProcessedSlackEvent, SlaClockRow, Ticket, TicketEventRow
from storage.timers import sync_timers

PROCESSED_KEPT = timedelta(days=31)
"""How long a handled event id or request key is remembered: longer than the longest repeat window
(`handlers.dedupe.SUBMISSION_WINDOW`, 30 days) and than Slack's retries of an event (minutes)."""
PRUNED_PER_CALL = 100  # each new key forgets at most this many expired ones: the table stays small, no call slows down


def _forget_expired(now: datetime) -> Delete:
    expired = select(ProcessedSlackEvent.event_id).where(ProcessedSlackEvent.received_at < now - PROCESSED_KEPT).limit(PRUNED_PER_CALL)
    return delete(ProcessedSlackEvent).where(ProcessedSlackEvent.event_id.in_(expired))


class TicketStore:
    """Ticket queries of `bot.services.Services`."""

    sessions: async_sessionmaker[AsyncSession]
    policies: PolicySet
    clock: Clock

    async def first_time_event(self, event_id: str) -> bool:
        """Record a Slack event id; False when it was already handled (a Slack retry)."""
        async with self.sessions() as s:
            await s.execute(_forget_expired(self.clock.now()))
            s.add(ProcessedSlackEvent(event_id=event_id, received_at=self.clock.now()))
            try:
                await s.commit()
            except IntegrityError:
                return False
            return True

    async def first_request(self, key: str, window: timedelta) -> bool:
        """Record a request key; False when the same key was recorded within `window` (a retry, a double click).

        One statement decides, so two replicas given the same request cannot both take it.
        """
        now = self.clock.now()
        async with self.sessions() as s:
            await s.execute(_forget_expired(now))
            s.add(ProcessedSlackEvent(event_id=key, received_at=now))
            try:
                await s.commit()
                return True
            except IntegrityError:
                await s.rollback()
            taken = await s.execute(
                update(ProcessedSlackEvent)
                .where(ProcessedSlackEvent.event_id == key, ProcessedSlackEvent.received_at <= now - window)
                .values(received_at=now)
            )
            await s.commit()
            return bool(rowcount(taken))

    async def release_request(self, key: str) -> None:
        """Forget a request key whose request failed, so trying again is not taken for a repeat."""
        async with self.sessions() as s:
            await s.execute(delete(ProcessedSlackEvent).where(ProcessedSlackEvent.event_id == key))
            await s.commit()

    async def _by_key(self, s: AsyncSession, key: str) -> Ticket | None:
        return (await s.execute(select(Ticket).where(Ticket.idempotency_key == key))).scalar_one_or_none()

    async def set_announcement(self, ticket_id: int, channel_id: str, ts: str) -> None:
        """Record that the ticket was announced (at `ts` in `channel_id`): its owed announcement is settled."""
        async with self.sessions() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket INC-{ticket_id}")
            ticket.announce_channel_id, ticket.thread_ts = channel_id, ts
            await s.execute(
                update(OutboxPost)
                .where(OutboxPost.ticket_id == ticket_id, OutboxPost.kind == "announcement", OutboxPost.state.in_(("pending", "claimed")))
                .values(state="sent", message_channel=channel_id, message_ts=ts, sent_at=self.clock.now(), lease_until=None)
            )
            await s.commit()

    async def ticket_by_thread(self, channel_id: str, thread_ts: str) -> Ticket | None:
        """The ticket whose thread this is: its announcement's, or its thread in the customer's channel."""
        async with self.sessions() as s:
            return (
                await s.execute(
                    select(Ticket)
                    .where(
                        or_(
                            (Ticket.announce_channel_id == channel_id) & (Ticket.thread_ts == thread_ts),
                            (Ticket.channel_id == channel_id) & (Ticket.customer_thread_ts == thread_ts),
                        )
                    )
                    .limit(1)
                )
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
                raise NotFound(f"no ticket INC-{ticket_id}")
            return ticket

    async def status_of(self, ticket: Ticket, now: datetime | None = None) -> SlaStatus:
        plan = self.policies.plan(ticket.plan_id)
        async with self.sessions() as s:
            rows = (
                (await s.execute(select(TicketEventRow).where(TicketEventRow.ticket_id == ticket.id).order_by(TicketEventRow.id)))
                .scalars()
                .all()
            )
            stored = (await s.execute(select(SlaClockRow).where(SlaClockRow.ticket_id == ticket.id))).scalars().all()
        return evaluate_ticket(plan, ticket, rows, now or self.clock.now(), stored)

    def _store_clocks(self, s: AsyncSession, ticket: Ticket, status: SlaStatus, existing: list[SlaClockRow]) -> None:
        store_clocks(s, ticket, status, existing, self.clock.now())


def store_clocks(s: AsyncSession, ticket: Ticket, status: SlaStatus, existing: Sequence[SlaClockRow], now: datetime) -> None:
    """Write each clock's record (`rules.clock_record`), and the ticket's place on the board that follows
    from them, in the transaction that changed the ticket.

    `status` must already carry the stored verdicts (`evaluate_ticket(..., stored)`),
    so a stopped clock is written back as it was judged.
    """
    by_name = {c.clock: c for c in existing}
    for rec in clock_records(status):
        row = by_name.get(rec.clock)
        if row is None:
            row = by_name[rec.clock] = SlaClockRow(ticket=ticket, clock=rec.clock)  # a new ticket has no id yet
            s.add(row)
        row.status = rec.status
        row.target_minutes = rec.target_minutes
        row.started_at = rec.started_at
        row.due_at = rec.due_at
        row.at_risk_at = rec.at_risk_at
        row.breached_at = rec.breached_at
        row.stopped_at = rec.stopped_at
        row.verdict = rec.verdict
        row.periods = rec.periods_json() or None
        row.periods_closed = len(rec.periods)
        row.periods_met = sum(1 for period in rec.periods if period.met)
        row.updated_at = now
    place_on_board(ticket, by_name.values())


def frozen_of(row: SlaClockRow) -> FrozenVerdict:
    return FrozenVerdict(
        row.clock,
        row.status,  # type: ignore[arg-type]
        row.due_at,
        row.stopped_at,
        FrozenVerdict.periods_from_json(row.periods),
    )


def add_terms(plan: Plan, ticket: Ticket, rows: Sequence[TicketEventRow], terms: Terms) -> None:
    """Freeze the targets and calendar in force from `terms.since` on the ticket.

    A ticket stored without terms first gets those of its plan as it is now.
    """
    if ticket.sla_terms is None:
        ticket.sla_terms = [snapshot(t) for t in terms_of_plan(plan, ticket, rows, before=terms.since)]
    ticket.sla_terms = [*ticket.sla_terms, snapshot(terms)]


def terms_of_plan(plan: Plan, ticket: Ticket, rows: Sequence[TicketEventRow], before: datetime | None = None) -> list[Terms]:
    """The terms a stored ticket gets from its plan as loaded now (tickets stored before terms were frozen)."""
    first_severity = next((r.severity for r in rows if r.kind == "classified" and r.severity), ticket.severity)
    reclassified = [(r.at, r.severity) for r in rows if r.kind == "reclassified" and r.severity and (before is None or r.at < before)]
    return terms_from_plan(plan, first_severity, ticket.opened_at, reclassified)


async def count_openings(s: AsyncSession, customer_id: int, start: datetime, end: datetime) -> int:
    """How many of a customer's tickets were opened in [start, end]: one COUNT on ix_tickets_customer_opened."""
    query = (
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.opened_at >= start, Ticket.opened_at <= end)
    )
    return int((await s.execute(query)).scalar_one())


def evaluate_ticket(
    plan: Plan, ticket: Ticket, rows: Sequence[TicketEventRow], now: datetime, stored: Sequence[SlaClockRow] | None = None
) -> SlaStatus:
    """A stored ticket's clocks: its first classification, then its event log, at `now`, on its frozen terms.

    With `stored` (its `sla_clocks` rows), stopped clocks keep the verdicts they were stored with.
    """
    first_severity = next((r.severity for r in rows if r.kind == "classified" and r.severity), ticket.severity)
    status = evaluate(
        plan, first_severity, ticket.opened_at, engine_events(rows), now, ticket.priority, terms=restore_all(ticket.sla_terms)
    )
    if stored:
        status = frozen_verdicts(status, [frozen_of(r) for r in stored])
    return status


def targets_in_force(plan: Plan, ticket: Ticket, now: datetime) -> TargetSet:
    """The targets a stored ticket is measured by at `now` (its frozen terms), without evaluating its clocks;
    a ticket stored before terms were kept has its plan's, as `evaluate` gives it."""
    terms = restore_all(ticket.sla_terms)
    return in_force(terms, now) if terms else plan.targets_for(ticket.severity)


def engine_events(rows: Sequence[TicketEventRow]) -> list[TicketEvent]:
    out = []
    for r in rows:
        kind = ENGINE_KIND.get(r.kind)  # reported, classified, assigned: audit only
        if kind is None:
            continue
        data = r.data or {}
        shown_at = data.get("shown_at")
        out.append(
            TicketEvent(
                kind=kind,  # type: ignore[arg-type]
                at=r.at,
                severity=r.severity,
                next_update_at=r.next_update_at,
                clock=data.get("clock"),
                awaiting_customer=data.get("customer_post") == OWED,
                shown_at=datetime.fromisoformat(shown_at) if shown_at else None,
            )
        )
    return out


# An action's event data: "customer_post" is OWED until its message reached the customer, then SHOWN with "shown_at".
OWED, SHOWN = "owed", "shown"


async def mark_shown(s: AsyncSession, policies: PolicySet, ticket_id: int, event_id: int, at: datetime) -> bool:
    """The message an action owed the customer was posted at `at`: from then on the action counts.

    Runs in the caller's transaction (the one recording the post): the ticket's
    first response, clocks and timers are brought up to date. False when the
    event owed nothing (already shown, or never owed).
    """
    ticket = await lock_ticket(s, ticket_id)
    event = next((e for e in ticket.events if e.id == event_id), None) if ticket else None
    if ticket is None or event is None or (event.data or {}).get("customer_post") != OWED:
        return False
    event.data = {**(event.data or {}), "customer_post": SHOWN, "shown_at": at.isoformat()}
    if action_of(event.kind).first_response and (ticket.first_response_at is None or ticket.first_response_at > at):
        ticket.first_response_at = at
    plan = policies.plan(ticket.plan_id)
    status = evaluate_ticket(plan, ticket, ticket.events, at, ticket.clocks)
    store_clocks(s, ticket, status, list(ticket.clocks), at)
    await sync_timers(s, ticket.id, status, plan)
    return True


async def lock_ticket(s: AsyncSession, ticket_id: int) -> Ticket | None:
    """A ticket with its events and clock rows, locked for this transaction on PostgreSQL
    (two responders clicking at once: one after the other); None when there is no such ticket."""
    query = select(Ticket).where(Ticket.id == ticket_id).options(selectinload(Ticket.events), selectinload(Ticket.clocks))
    if is_postgres(s):
        query = query.with_for_update(of=Ticket)
    return (await s.execute(query)).scalar_one_or_none()


def _ticket_number(key: str | int) -> int:
    return key if isinstance(key, int) else parse_ticket_key(key)
