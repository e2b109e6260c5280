"""The period report: tickets opened in a period, with their verdicts and each customer's quota use.

Loading is `storage.reporting`; the figures come from the pure `rules.compliance`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import TYPE_CHECKING, Any

from rules.board import BoardRow, Urgency, board_row
from rules.compliance import Report, build_report
from rules.periods import Period
from storage.board import board_ids, mine
from storage.customers import find_customer
from storage.db import StoreContext
from storage.models import Customer
from storage.reporting import Loaded, count_tickets, customer_cases, gc_paused, load_tickets, opened_between, with_ids

if TYPE_CHECKING:
    from bot.services import Services


async def build_period_report(
    services: StoreContext,
    period: Period,
    now: datetime,
    customer: str | None = None,
    plan_id: str | None = None,
    off_loop: bool = False,
) -> tuple[Report, Loaded]:
    """The report for tickets opened in `period`, optionally for one customer and/or plan.

    `off_loop` (in the bot): tickets are evaluated and the figures computed in worker threads, so the
    event loop keeps serving other users. `/sla report` runs it in a child process (`bot.report_process`)
    whenever the period has tickets.
    """
    customer_row, conditions = await _period_conditions(services, period, customer, plan_id)
    loaded = await load_tickets(services, now, *conditions, off_loop=off_loop)
    cases = await customer_cases(services, period, now, customer_row, plan_id)
    work = partial(
        build_report,
        loaded.tickets,
        period,
        now,
        services.policies.plans,
        cases,
        customer=customer_row.name if customer_row else None,
        plan_id=plan_id,
    )
    with gc_paused():
        report = await asyncio.to_thread(work) if off_loop else work()
    return report, loaded


async def period_size(services: StoreContext, period: Period, customer: str | None = None, plan_id: str | None = None) -> int:
    """About how many tickets the period's report reads (one COUNT; a day either side of the period, see below).

    An unknown customer or plan is the user's error here, before any report work starts."""
    _customer, conditions = await _period_conditions(services, period, customer, plan_id)
    return await count_tickets(services, *conditions)


async def _period_conditions(
    services: StoreContext, period: Period, customer: str | None, plan_id: str | None
) -> tuple[Customer | None, list[Any]]:
    customer_row = await find_customer(services, customer) if customer else None
    if plan_id:
        services.policies.plan(plan_id)  # an unknown plan id is the user's error, listing the valid ones
    # The period is read in each plan's own time zone: load a day either side, rules.compliance filters exactly.
    start = period.bounds(timezone.utc)[0] - timedelta(days=1)
    end = period.bounds(timezone.utc)[1] + timedelta(days=1)
    return customer_row, opened_between(start, end, customer_row.id if customer_row else None, plan_id)


@dataclass(frozen=True)
class BoardPage:
    """Rows of the status board as shown (board order), with how many open tickets each urgency has."""

    rows: list[BoardRow]
    counts: dict[Urgency, int]
    skipped: list[str]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def board_page(
    services: Services,
    now: datetime,
    *,
    user_id: str | None = None,
    urgencies: tuple[Urgency, ...] = tuple(Urgency),
    offset: int = 0,
    limit: int = 20,
    per_urgency: dict[Urgency, int] | None = None,
) -> BoardPage:
    """The board's rows in SQL from the stored clock records; only those rows are loaded and evaluated."""
    conditions = (mine(user_id),) if user_id else ()
    found = await board_ids(services, now, *conditions, urgencies=urgencies, offset=offset, limit=limit, per_urgency=per_urgency)
    loaded = await load_tickets(services, now, with_ids(found.ids)) if found.ids else Loaded([], [])
    by_key = {t.key: t for t in loaded.tickets}
    rows = [board_row(by_key[f"INC-{i}"], now) for i in found.ids if f"INC-{i}" in by_key]
    return BoardPage(rows, found.counts, loaded.skipped)
