"""Loading what the managers' views need: tickets with their SLA status, and each customer's cases.

Read-only queries over the same tables as `storage.tickets`; the figures themselves
come from the pure `rules.board`, `rules.compliance` and `rules.quota`. Slack-free,
so the CLI and the handlers share it (through `bot.services.reporting`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, Sequence

from sqlalchemy import func, or_, select

from rules.board import TicketFacts
from rules.errors import UnknownIdError
from rules.periods import Period
from rules.policy import Plan, PolicySet
from rules.quota import CustomerCases, quota_periods
from rules.sla import SlaStatus
from storage.db import StoreContext
from storage.models import Customer, SlaClockRow, Ticket, TicketEventRow
from storage.tickets import evaluate_ticket

log = logging.getLogger(__name__)

OPEN_STATES = ("open", "paused")


def status_from_rows(
    plan: Plan, ticket: Ticket, rows: list[TicketEventRow], now: datetime, stored: list[SlaClockRow] | None = None
) -> SlaStatus:
    """A ticket's SLA status from its already loaded event rows and clock records (as `Services.status_of`,
    without a query): stopped clocks keep their stored verdicts."""
    return evaluate_ticket(plan, ticket, rows, now, stored)


@dataclass(frozen=True)
class Loaded:
    tickets: list[TicketFacts]
    skipped: list[str]  # tickets whose plan is no longer loaded: "INC-7 (plan old-gold)"


async def _customer_names(services: StoreContext) -> dict[int, str]:
    async with services.sessions() as s:
        return dict((await s.execute(select(Customer.id, Customer.name))).all())  # type: ignore[arg-type]


# Only the columns the figures need (no descriptions, no answers), as plain rows: no ORM objects per ticket.
_TICKET = (
    Ticket.id, Ticket.plan_id, Ticket.customer_id, Ticket.summary, Ticket.state, Ticket.reporter_id, Ticket.assignee_id,
    Ticket.within_plan, Ticket.announce_channel_id, Ticket.channel_id, Ticket.opened_at, Ticket.severity,
    Ticket.priority, Ticket.sla_terms,
)
_EVENT = (
    TicketEventRow.ticket_id, TicketEventRow.kind, TicketEventRow.at, TicketEventRow.severity,
    TicketEventRow.next_update_at, TicketEventRow.data,
)
_CLOCK = (
    SlaClockRow.ticket_id, SlaClockRow.clock, SlaClockRow.status, SlaClockRow.due_at, SlaClockRow.stopped_at,
    SlaClockRow.periods,
)
CHUNK = 1000  # tickets read and evaluated at a time (SQLite allows 32,766 bound parameters)


async def load_tickets(services: StoreContext, now: datetime, *conditions: Any, off_loop: bool = False) -> Loaded:
    """Tickets matching the SQL conditions, with their status at `now`.

    Read in chunks of CHUNK tickets as plain rows; with `off_loop`, each chunk is evaluated in a
    worker thread so the event loop keeps acking other users while a big report is computed.
    """
    names = await _customer_names(services)
    async with services.sessions() as s:
        ids = list((await s.execute(select(Ticket.id).where(*conditions).order_by(Ticket.id))).scalars())
    loaded = Loaded([], [])
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        lo, hi = part[0], part[-1]
        if hi - lo < 2 * len(part):  # dense (a period's tickets): an id range, no long IN list to compile; others dropped
            ticket_in, event_in, clock_in = (col.between(lo, hi) for col in (Ticket.id, TicketEventRow.ticket_id, SlaClockRow.ticket_id))
        else:  # sparse (a board page): just these tickets, not every row between them
            ticket_in, event_in, clock_in = (col.in_(part) for col in (Ticket.id, TicketEventRow.ticket_id, SlaClockRow.ticket_id))
        async with services.sessions() as s:
            tickets = (await s.execute(select(*_TICKET).where(ticket_in, *conditions).order_by(Ticket.id))).all()
            events = (await s.execute(select(*_EVENT).where(event_in).order_by(TicketEventRow.id))).all()
            clocks = (await s.execute(select(*_CLOCK).where(clock_in))).all()
        work = partial(_evaluate, services.policies, names, now, tickets, events, clocks, loaded)
        if off_loop:
            await asyncio.to_thread(work)
        else:
            work()
    if loaded.skipped:
        log.warning("tickets on plans that are no longer loaded were left out: %s", ", ".join(loaded.skipped))
    return loaded


def _evaluate(
    policies: PolicySet, names: dict[int, str], now: datetime, tickets: Sequence[Any], events: Sequence[Any],
    clocks: Sequence[Any], into: Loaded,
) -> None:
    """Evaluate one chunk of ticket rows (with their event and clock rows) into `into`."""
    wanted = {t.id for t in tickets}
    events_of: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        if e.ticket_id in wanted:
            events_of[e.ticket_id].append(e)
    clocks_of: dict[int, list[Any]] = defaultdict(list)
    for c in clocks:
        if c.ticket_id in wanted:
            clocks_of[c.ticket_id].append(c)
    for t in tickets:
        key = f"INC-{t.id}"
        try:
            plan = policies.plan(t.plan_id)
        except UnknownIdError:
            into.skipped.append(f"{key} (plan {t.plan_id})")
            continue
        into.tickets.append(
            TicketFacts(
                key=key,
                plan_id=t.plan_id,
                status=status_from_rows(plan, t, events_of[t.id], now, clocks_of[t.id]),
                customer=names.get(t.customer_id) if t.customer_id is not None else None,
                summary=t.summary,
                state=t.state,
                reporter_id=t.reporter_id,
                assignee_id=t.assignee_id,
                within_plan=t.within_plan,
                channel_id=t.announce_channel_id or t.channel_id,
            )
        )


async def open_tickets(services: StoreContext, now: datetime, user_id: str | None = None) -> Loaded:
    """Open and paused tickets; with `user_id`, only those they reported or are assigned."""
    conditions: list[Any] = [Ticket.state.in_(OPEN_STATES)]
    if user_id is not None:
        conditions.append(or_(Ticket.reporter_id == user_id, Ticket.assignee_id == user_id))
    return await load_tickets(services, now, *conditions)


async def customer_cases(
    services: StoreContext, period: Period, now: datetime, only: Customer | None, plan_id: str | None
) -> list[CustomerCases]:
    """Each customer's openings over the counting periods of its plan that overlap the report period."""
    async with services.sessions() as s:
        query = select(Customer).order_by(Customer.name)
        if only is not None:
            query = query.where(Customer.id == only.id)
        if plan_id:
            query = query.where(Customer.plan_id == plan_id)
        customers = (await s.execute(query)).scalars().all()
        out: list[CustomerCases] = []
        for c in customers:
            try:
                plan = services.policies.plan(c.plan_id)
            except UnknownIdError:
                log.warning("customer %s is on plan %s, which is not loaded: no quota line", c.name, c.plan_id)
                continue
            spans = [(q.start, q.end) for q in quota_periods(plan, period, now)] or [period.bounds(plan.timezone)]
            lo, hi = min(a for a, _ in spans), max(b for _, b in spans)
            opened = (
                await s.execute(
                    select(Ticket.opened_at).where(Ticket.customer_id == c.id, Ticket.opened_at >= lo, Ticket.opened_at < hi)
                )
            ).scalars().all()
            out.append(CustomerCases(c.name, plan, tuple(opened)))
        return out


def opened_between(start: datetime, end: datetime, customer_id: int | None = None, plan_id: str | None = None) -> list[Any]:
    """The conditions of tickets opened in [start, end), optionally of one customer and/or plan."""
    conditions: list[Any] = [Ticket.opened_at >= start, Ticket.opened_at < end]
    if customer_id is not None:
        conditions.append(Ticket.customer_id == customer_id)
    if plan_id:
        conditions.append(Ticket.plan_id == plan_id)
    return conditions


async def count_tickets(services: StoreContext, *conditions: Any) -> int:
    """How many tickets meet `conditions` (one COUNT)."""
    async with services.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(Ticket).where(*conditions))).scalar_one())
