"""The status board read from stored clock state (`sla_clocks`), in SQL: counts per urgency and one page of rows.

Each open ticket's place on the board comes from its running clocks' stored
records (`rules.clock_record`): breached when `due_at < now`, at risk when
`at_risk_at <= now`, else on track; the ticket takes its most urgent clock
(then the earliest deadline), and a ticket with no running clock has no
deadline. Only the page's tickets are then loaded and evaluated, so
`/sla status` and the App Home grow with the rows shown, not the rows stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, literal, or_, select

from rules.board import Urgency
from storage.db import StoreContext
from storage.models import SlaClockRow, Ticket

OPEN_STATES = ("open", "paused")
RANK = {u: u.rank for u in Urgency}
NO_DEADLINE = Urgency.NO_DEADLINE.rank


@dataclass(frozen=True)
class BoardIds:
    """Ticket ids of one page, in board order, and how many open tickets each urgency has."""

    ids: list[int]
    counts: dict[Urgency, int]


def _ranked(now: datetime, conditions: tuple[Any, ...]) -> Any:
    """(ticket id, urgency rank, headline deadline, opened) of every open ticket matching `conditions`."""
    rank = case(
        (SlaClockRow.due_at < now, RANK[Urgency.BREACHED]),
        (SlaClockRow.at_risk_at <= now, RANK[Urgency.AT_RISK]),
        else_=RANK[Urgency.ON_TRACK],
    )
    clocks = (
        select(
            SlaClockRow.ticket_id,
            SlaClockRow.due_at,
            rank.label("rank"),
            func.row_number().over(partition_by=SlaClockRow.ticket_id, order_by=(rank, SlaClockRow.due_at)).label("n"),
        )
        .where(SlaClockRow.status == "running", SlaClockRow.due_at.is_not(None))
        .subquery()
    )
    return (
        select(
            Ticket.id.label("id"),
            func.coalesce(clocks.c.rank, literal(NO_DEADLINE)).label("rank"),
            clocks.c.due_at.label("due_at"),
            Ticket.opened_at.label("opened_at"),
        )
        .select_from(Ticket)
        .outerjoin(clocks, (clocks.c.ticket_id == Ticket.id) & (clocks.c.n == 1))
        .where(Ticket.state.in_(OPEN_STATES), *conditions)
        .subquery()
    )


def mine(user_id: str) -> Any:
    """Tickets a person reported or is assigned."""
    return or_(Ticket.reporter_id == user_id, Ticket.assignee_id == user_id)


async def board_ids(
    services: StoreContext,
    now: datetime,
    *conditions: Any,
    urgencies: tuple[Urgency, ...] = tuple(Urgency),
    offset: int = 0,
    limit: int = 20,
    per_urgency: dict[Urgency, int] | None = None,
) -> BoardIds:
    """Board order (most urgent, then earliest deadline, then oldest): `limit` ids from `offset` within
    `urgencies`, or with `per_urgency` the first n of each; and the counts of all urgencies."""
    ranked = _ranked(now, conditions)
    async with services.sessions() as s:
        counts = {Urgency.BREACHED: 0, Urgency.AT_RISK: 0, Urgency.ON_TRACK: 0, Urgency.NO_DEADLINE: 0}
        by_rank = {u.rank: u for u in Urgency}
        for rank, n in (await s.execute(select(ranked.c.rank, func.count()).group_by(ranked.c.rank))).all():
            counts[by_rank[int(rank)]] = int(n)
        order = (ranked.c.rank, ranked.c.due_at, ranked.c.opened_at, ranked.c.id)
        ids: list[int] = []
        if per_urgency is not None:
            for u, n in per_urgency.items():
                if n and counts[u]:
                    query = select(ranked.c.id).where(ranked.c.rank == u.rank).order_by(*order).limit(n)
                    ids += list((await s.execute(query)).scalars())
        else:
            query = (
                select(ranked.c.id)
                .where(ranked.c.rank.in_([u.rank for u in urgencies]))
                .order_by(*order)
                .offset(offset)
                .limit(limit)
            )
            ids = list((await s.execute(query)).scalars())
    return BoardIds(ids, counts)
