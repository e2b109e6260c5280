"""Loading what the managers' views need: tickets with their SLA status, and each customer's cases.

Read-only queries over the same tables as `storage.tickets`; the figures themselves
come from the pure `rules.board`, `rules.compliance` and `rules.quota`. Slack-free,
so the CLI and the handlers share it (through `bot.services.reporting`).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from types import SimpleNamespace
from typing import Any, Iterator, Sequence

from sqlalchemy import Text, and_, case, cast, func, or_, select

from rules.board import TicketFacts
from rules.clock_record import FrozenVerdict, StoredClock, status_from_records
from rules.compliance import Rate, Totals
from rules.errors import UnknownIdError
from rules.periods import Period
from rules.policy import Plan, PolicySet
from rules.quota import CustomerCases, quota_periods
from rules.sla import SlaStatus, UpdatePeriod
from rules.terms import restore_all
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


@dataclass(frozen=True, repr=False)
class Loaded:
    tickets: list[TicketFacts]
    skipped: list[str]  # tickets whose plan is no longer loaded: "INC-7 (plan old-gold)"

    def __repr__(self) -> str:  # short, as Report's
        return f"Loaded({len(self.tickets)} tickets, {len(self.skipped)} skipped)"


async def _customer_names(services: StoreContext) -> dict[int, str]:
    async with services.sessions() as s:
        return dict((await s.execute(select(Customer.id, Customer.name))).all())  # type: ignore[arg-type]


# Only the columns the figures need (no descriptions, no answers), as plain rows: no ORM objects per ticket.
# The frozen terms come as their JSON text: tickets of one plan and severity share it, so it is decoded once.
_TICKET = (
    Ticket.id,
    Ticket.plan_id,
    Ticket.customer_id,
    Ticket.summary,
    Ticket.state,
    Ticket.reporter_id,
    Ticket.assignee_id,
    Ticket.within_plan,
    Ticket.announce_channel_id,
    Ticket.channel_id,
    Ticket.opened_at,
    Ticket.severity,
    Ticket.priority,
    cast(Ticket.sla_terms, Text).label("terms_text"),
)
_EVENT = (
    TicketEventRow.ticket_id,
    TicketEventRow.kind,
    TicketEventRow.at,
    TicketEventRow.severity,
    TicketEventRow.next_update_at,
    TicketEventRow.data,
)
_CLOCK = (
    SlaClockRow.ticket_id,
    SlaClockRow.clock,
    SlaClockRow.status,
    SlaClockRow.target_minutes,
    SlaClockRow.started_at,
    SlaClockRow.due_at,
    SlaClockRow.stopped_at,
    cast(SlaClockRow.periods, Text).label("periods_text"),
    SlaClockRow.updated_at,
)
CHUNK = 1000  # tickets read and evaluated at a time (SQLite allows 32,766 bound parameters)


_gc = {"holders": 0, "was_enabled": True}
_gc_lock = threading.Lock()


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a big report's objects are built (reentrant, across threads).

    A 50,000-ticket report creates some 10^6 objects that all stay alive; the collector would walk the
    growing heap again and again for nothing (about 40% of the report's time). Reference counting still
    frees everything as usual; the collector runs again as soon as the last holder leaves.
    """
    with _gc_lock:
        if _gc["holders"] == 0:
            _gc["was_enabled"] = gc.isenabled()
            gc.disable()
        _gc["holders"] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc["holders"] -= 1
            if _gc["holders"] == 0 and _gc["was_enabled"]:
                gc.enable()


async def load_tickets(services: StoreContext, now: datetime, *conditions: Any, off_loop: bool = False, replay: bool = False) -> Loaded:
    """Tickets matching the SQL conditions, with their status at `now`.

    Read in chunks of CHUNK tickets as plain rows. A ticket's status comes from its stored clock records
    (`rules.clock_record.status_from_records`: what the engine wrote with its last change, moved on to
    `now`); only tickets the records cannot answer exactly (paused ones, records missing or written after
    `now`), or all with `replay`, have their event log read and evaluated. With `off_loop`, each chunk is
    worked in a thread so the event loop keeps acking other users while a big report is computed.
    """
    with gc_paused():
        return await _load(services, now, conditions, off_loop, replay)


async def _load(services: StoreContext, now: datetime, conditions: Sequence[Any], off_loop: bool, replay: bool) -> Loaded:
    names = await _customer_names(services)
    async with services.sessions() as s:
        ids = list((await s.execute(select(Ticket.id).where(*conditions).order_by(Ticket.id))).scalars())
    loaded = Loaded([], [])
    terms_cache: dict[str | None, Any] = {}
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        lo, hi = part[0], part[-1]
        if hi - lo < 2 * len(part):  # dense (a period's tickets): an id range, no long IN list to compile; others dropped
            ticket_in, event_in, clock_in = (col.between(lo, hi) for col in (Ticket.id, TicketEventRow.ticket_id, SlaClockRow.ticket_id))
        else:  # sparse (a board page): just these tickets, not every row between them
            ticket_in, event_in, clock_in = (col.in_(part) for col in (Ticket.id, TicketEventRow.ticket_id, SlaClockRow.ticket_id))
        async with services.sessions() as s:
            conn = await s.connection()  # Core rows: no ORM result machinery per row
            tickets = (await conn.execute(select(*_TICKET).where(ticket_in, *conditions).order_by(Ticket.id))).all()
            clocks = (await conn.execute(select(*_CLOCK).where(clock_in))).all()
        work = partial(_from_records, services.policies, names, now, tickets, clocks, terms_cache, loaded, replay)
        pending = await asyncio.to_thread(work) if off_loop else work()
        if pending:  # the tickets whose events must be replayed
            ids_in = TicketEventRow.ticket_id.in_([t.id for t in pending]) if len(pending) < 500 else event_in
            async with services.sessions() as s:
                events = (await (await s.connection()).execute(select(*_EVENT).where(ids_in).order_by(TicketEventRow.id))).all()
            replaying = partial(_evaluate, services.policies, names, now, pending, events, clocks, terms_cache, loaded)
            await asyncio.to_thread(replaying) if off_loop else replaying()
    if loaded.skipped:
        log.warning("tickets on plans that are no longer loaded were left out: %s", ", ".join(loaded.skipped))
    loaded.tickets.sort(key=lambda t: int(t.key[4:]))
    return loaded


def _terms(cache: dict[str | None, Any], text: str | None) -> Any:
    """A ticket's frozen terms (`rules.terms.restore_all`) from their JSON text, decoded once per distinct text."""
    if text not in cache:
        cache[text] = restore_all(json.loads(text)) if text else None
    return cache[text]


def _periods(text: str | None) -> tuple[UpdatePeriod, ...]:
    """The update clock's closed periods from their JSON text (most clocks have none: not decoded)."""
    return FrozenVerdict.periods_from_json(json.loads(text)) if text and text != "null" else ()


def _facts(t: Any, names: dict[int, str], status: SlaStatus) -> TicketFacts:
    return TicketFacts(
        key=f"INC-{t.id}",
        plan_id=t.plan_id,
        status=status,
        customer=names.get(t.customer_id) if t.customer_id is not None else None,
        summary=t.summary,
        state=t.state,
        reporter_id=t.reporter_id,
        assignee_id=t.assignee_id,
        within_plan=t.within_plan,
        channel_id=t.announce_channel_id or t.channel_id,
    )


def _from_records(
    policies: PolicySet,
    names: dict[int, str],
    now: datetime,
    tickets: Sequence[Any],
    clocks: Sequence[Any],
    terms_cache: dict[str | None, Any],
    into: Loaded,
    replay: bool,
) -> list[Any]:
    """Statuses of one chunk from the stored clock records, into `into`; returns the tickets needing a replay."""
    wanted = {t.id for t in tickets}
    records: dict[int, dict[str, StoredClock]] = defaultdict(dict)
    written: dict[int, datetime] = {}
    for c in clocks:
        if c.ticket_id not in wanted:
            continue
        records[c.ticket_id][c.clock] = StoredClock(
            c.clock,
            c.status,
            c.target_minutes,
            c.started_at,
            c.due_at,
            c.stopped_at,
            _periods(c.periods_text),
        )
        if c.updated_at is not None:
            written[c.ticket_id] = max(written.get(c.ticket_id, c.updated_at), c.updated_at)
    pending = []
    for t in tickets:
        try:
            plan = policies.plan(t.plan_id)
        except UnknownIdError:
            into.skipped.append(f"INC-{t.id} (plan {t.plan_id})")
            continue
        status = None
        if not replay and t.id in written and written[t.id] <= now:
            terms = _terms(terms_cache, t.terms_text)
            if terms:
                status = status_from_records(t.plan_id, plan.timezone, t.severity, t.priority, t.opened_at, terms, records[t.id], now)
        if status is None:
            pending.append(t)
        else:
            into.tickets.append(_facts(t, names, status))
    return pending


def _evaluate(
    policies: PolicySet,
    names: dict[int, str],
    now: datetime,
    tickets: Sequence[Any],
    events: Sequence[Any],
    clocks: Sequence[Any],
    terms_cache: dict[str | None, Any],
    into: Loaded,
) -> None:
    """Evaluate tickets' event logs (with their clock rows) into `into`."""
    wanted = {t.id for t in tickets}
    events_of: dict[int, list[Any]] = defaultdict(list)
    for e in events:
        if e.ticket_id in wanted:
            events_of[e.ticket_id].append(e)
    clocks_of: dict[int, list[Any]] = defaultdict(list)
    for c in clocks:
        if c.ticket_id in wanted:  # as storage.tickets.frozen_of reads a row
            periods = json.loads(c.periods_text) if c.periods_text and c.periods_text != "null" else None
            clocks_of[c.ticket_id].append(
                SimpleNamespace(clock=c.clock, status=c.status, due_at=c.due_at, stopped_at=c.stopped_at, periods=periods)
            )
    for t in tickets:
        plan = policies.plan(t.plan_id)
        row = SimpleNamespace(
            id=t.id,
            severity=t.severity,
            opened_at=t.opened_at,
            priority=t.priority,
            sla_terms=json.loads(t.terms_text) if t.terms_text else None,
        )
        into.tickets.append(_facts(t, names, status_from_rows(plan, row, events_of[t.id], now, clocks_of[t.id])))  # type: ignore[arg-type]


async def period_totals(services: StoreContext, period: Period, now: datetime) -> Totals:
    """`rules.compliance.totals` of the period's report, in SQL over the stored clock records (the App Home).

    Tickets opened in the period (each plan's time zone; plans no longer loaded are left out, as the report
    does). First response and resolution: met and missed as stored, breached when still running past the
    deadline. Updates: each closed period (the update clock's stored counts of its periods, closed and met)
    plus a running period past its deadline. Nothing per ticket is built or decoded: three SQL aggregates.
    """
    by_bounds: dict[tuple[datetime, datetime], list[str]] = {}
    for pid, plan in services.policies.plans.items():  # plans sharing a time zone share the period's instants
        by_bounds.setdefault(period.bounds(plan.timezone), []).append(pid)
    spans = [and_(Ticket.opened_at >= lo, Ticket.opened_at < hi, Ticket.plan_id.in_(pids)) for (lo, hi), pids in by_bounds.items()]
    if not spans:
        return Totals(period, 0, Rate(), Rate(), Rate(), 0)
    in_period = or_(*spans)
    late = case((SlaClockRow.due_at < now, 1), else_=0).label("late")
    counts: dict[tuple[str, str, int], int] = {}
    async with services.sessions() as s:
        conn = await s.connection()
        tickets = int((await conn.execute(select(func.count()).select_from(Ticket).where(in_period))).scalar_one())
        by_clock = (
            select(SlaClockRow.clock, SlaClockRow.status, late, func.count())
            .join(Ticket, Ticket.id == SlaClockRow.ticket_id)
            .where(in_period, SlaClockRow.status.in_(("met", "missed", "running")))
            .group_by(SlaClockRow.clock, SlaClockRow.status, late)
        )
        for clock, status, is_late, number in (await conn.execute(by_clock)).all():
            key = (clock, status, int(is_late or 0))
            counts[key] = counts.get(key, 0) + int(number)
        closed = (
            select(func.coalesce(func.sum(SlaClockRow.periods_met), 0), func.coalesce(func.sum(SlaClockRow.periods_closed), 0))
            .join(Ticket, Ticket.id == SlaClockRow.ticket_id)
            .where(in_period, SlaClockRow.clock == "update")
        )
        met_periods, all_periods = (int(x) for x in (await conn.execute(closed)).one())

    def n(clock: str, status: str, is_late: int | None = None) -> int:
        return sum(v for (c, st, lt), v in counts.items() if c == clock and st == status and is_late in (None, lt))

    rates = []
    for clock in ("first_response", "resolution"):
        met, missed, breached = n(clock, "met"), n(clock, "missed"), n(clock, "running", 1)
        rates.append(Rate(met, met + missed + breached))
    update_breached = n("update", "running", 1)
    update = Rate(met_periods, all_periods + update_breached)
    breaches = sum(r.missed for r in rates) + update.missed
    return Totals(period, tickets, rates[0], update, rates[1], breaches)


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
                (await s.execute(select(Ticket.opened_at).where(Ticket.customer_id == c.id, Ticket.opened_at >= lo, Ticket.opened_at < hi)))
                .scalars()
                .all()
            )
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


def with_ids(ids: Sequence[int]) -> Any:
    """The condition of these tickets (a page of the board), for `load_tickets`."""
    return Ticket.id.in_(list(ids))


async def count_tickets(services: StoreContext, *conditions: Any) -> int:
    """How many tickets meet `conditions` (one COUNT)."""
    async with services.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(Ticket).where(*conditions))).scalar_one())
