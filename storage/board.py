"""The status board read from stored clock state, in SQL: counts per urgency and one page of rows.

Each open ticket's place on the board comes from its running clocks' stored
records (`rules.clock_record`): breached when `due_at < now`, at risk when
`at_risk_at <= now`, else on track; the ticket takes its most urgent clock
(then the earliest deadline), and a ticket with no running clock has no
deadline. Only the page's tickets are then loaded and evaluated, so
`/sla status` and the App Home grow with the rows shown, not the rows stored.

The whole board (no conditions) is read clock by clock: each urgency's page is
an index range scan of `ix_sla_clocks_status_due` in deadline order, keeping
the clock that puts its ticket there (its "headline": no more urgent or
earlier running clock of the same ticket, looked up by `(ticket_id, clock)`),
stopped at the page's last row. Nothing ranks or sorts every running clock.
The counts come from each ticket's earliest running deadline and at-risk
instant, written with its clock records (`place_on_board`): a ticket is
breached when its earliest deadline has passed, at risk when its earliest
at-risk instant has, so counting is one index-only pass over the open tickets
(`ix_tickets_state_earliest`), not a pass over every clock grouped by ticket.
A narrowed board ("mine") ranks just the matching tickets' clocks, grouped per ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Protocol

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import aliased

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


class StoredClock(Protocol):
    """A clock's stored state: a row of `sla_clocks`, or the record about to be written (`rules.clock_record`)."""

    @property
    def status(self) -> str: ...
    @property
    def due_at(self) -> datetime | None: ...
    @property
    def at_risk_at(self) -> datetime | None: ...


def place_on_board(ticket: Ticket, clocks: Iterable[StoredClock]) -> None:
    """Store the earliest deadline and at-risk instant of the ticket's running clocks, which decide its urgency:
    some running clock is breached iff the earliest deadline has passed, and (none breached) some is at risk
    iff the earliest at-risk instant has."""
    running = [c for c in clocks if c.status == "running" and c.due_at is not None]
    ticket.earliest_due_at = min((c.due_at for c in running if c.due_at is not None), default=None)
    ticket.earliest_at_risk_at = min((c.at_risk_at for c in running if c.at_risk_at is not None), default=None)


def mine(user_id: str) -> Any:
    """Tickets a person reported or is assigned."""
    return or_(Ticket.reporter_id == user_id, Ticket.assignee_id == user_id)


# -- one clock's urgency at `now` (a running clock with a deadline) ----------------------


def _deadline(c: Any) -> Any:
    return and_(c.status == "running", c.due_at.is_not(None))


def _breached(c: Any, now: datetime) -> Any:
    return c.due_at < now


def _at_risk(c: Any, now: datetime) -> Any:
    return and_(c.due_at >= now, c.at_risk_at <= now)


def _urgent(c: Any, now: datetime) -> Any:
    """Breached or at risk."""
    return or_(c.due_at < now, c.at_risk_at <= now)


def _on_track(c: Any, now: datetime) -> Any:
    return and_(c.due_at >= now, or_(c.at_risk_at.is_(None), c.at_risk_at > now))


def _headline(u: Urgency, c: Any, now: datetime) -> Any:
    """Clock `c` is in urgency `u` and is the one that puts its ticket there: no running clock of the same
    ticket is more urgent, and none of the same urgency is due earlier (ties: the lower row id)."""
    o = aliased(SlaClockRow)
    earlier = or_(o.due_at < c.due_at, and_(o.due_at == c.due_at, o.id < c.id))
    if u is Urgency.BREACHED:
        mine_, beaten = _breached(c, now), earlier  # every earlier running clock is breached too
    elif u is Urgency.AT_RISK:
        mine_, beaten = _at_risk(c, now), or_(_breached(o, now), and_(_at_risk(o, now), earlier))
    else:
        mine_, beaten = _on_track(c, now), or_(_urgent(o, now), earlier)
    other = exists().where(o.ticket_id == c.ticket_id, _deadline(o), beaten)
    return and_(_deadline(c), mine_, ~other)


# -- the whole board ---------------------------------------------------------------------


async def _counts(s: Any, now: datetime) -> dict[Urgency, int]:
    """One index-only pass over the open tickets' stored earliest deadline and at-risk instant."""
    due, at_risk = Ticket.earliest_due_at, Ticket.earliest_at_risk_at
    breached, at_risk_now, with_deadline, opened = (
        await s.execute(
            select(
                func.coalesce(func.sum(case((due < now, 1), else_=0)), 0),
                func.coalesce(func.sum(case((and_(due >= now, at_risk <= now), 1), else_=0)), 0),
                func.count(due),
                func.count(),
            ).where(Ticket.state.in_(OPEN_STATES))
        )
    ).one()
    return {
        Urgency.BREACHED: int(breached),
        Urgency.AT_RISK: int(at_risk_now),
        Urgency.ON_TRACK: int(with_deadline) - int(breached) - int(at_risk_now),
        Urgency.NO_DEADLINE: int(opened) - int(with_deadline),
    }


async def _page(s: Any, now: datetime, u: Urgency, offset: int, limit: int) -> list[int]:
    """Ticket ids of urgency `u` in board order, `limit` from `offset`."""
    if u is Urgency.NO_DEADLINE:
        no_deadline = and_(Ticket.state.in_(OPEN_STATES), Ticket.earliest_due_at.is_(None))
        query = select(Ticket.id).where(no_deadline).order_by(Ticket.opened_at, Ticket.id)
    else:
        c = aliased(SlaClockRow)
        query = (
            select(c.ticket_id)
            .join(Ticket, Ticket.id == c.ticket_id)
            .where(_headline(u, c, now), Ticket.state.in_(OPEN_STATES))
            .order_by(c.due_at, Ticket.opened_at, Ticket.id)
        )
    return list((await s.execute(query.offset(offset).limit(limit))).scalars())


# -- a narrowed board ("mine"): rank just the matching tickets --------------------------


def _ranked(now: datetime, conditions: tuple[Any, ...]) -> Any:
    """(ticket id, urgency rank, headline deadline, opened) of every open ticket matching `conditions`."""
    c = aliased(SlaClockRow)
    running = _deadline(c)
    breached = func.min(case((and_(running, _breached(c, now)), c.due_at)))
    at_risk = func.min(case((and_(running, _at_risk(c, now)), c.due_at)))
    any_due = func.min(case((running, c.due_at)))
    grouped = (
        select(
            Ticket.id.label("id"),
            breached.label("b"),
            at_risk.label("a"),
            any_due.label("d"),
            Ticket.opened_at.label("opened_at"),
        )
        .select_from(Ticket)
        .outerjoin(c, c.ticket_id == Ticket.id)
        .where(Ticket.state.in_(OPEN_STATES), *conditions)
        .group_by(Ticket.id, Ticket.opened_at)
        .subquery()
    )
    rank = case(
        (grouped.c.b.is_not(None), literal(RANK[Urgency.BREACHED])),
        (grouped.c.a.is_not(None), literal(RANK[Urgency.AT_RISK])),
        (grouped.c.d.is_not(None), literal(RANK[Urgency.ON_TRACK])),
        else_=literal(NO_DEADLINE),
    )
    return select(
        grouped.c.id,
        rank.label("rank"),
        func.coalesce(grouped.c.b, grouped.c.a, grouped.c.d).label("due_at"),
        grouped.c.opened_at,
    ).subquery()


async def _narrowed(
    s: Any,
    now: datetime,
    conditions: tuple[Any, ...],
    urgencies: tuple[Urgency, ...],
    offset: int,
    limit: int,
    per_urgency: dict[Urgency, int] | None,
) -> BoardIds:
    ranked = _ranked(now, conditions)
    counts = {u: 0 for u in Urgency}
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
        query = select(ranked.c.id).where(ranked.c.rank.in_([u.rank for u in urgencies])).order_by(*order)
        ids = list((await s.execute(query.offset(offset).limit(limit))).scalars())
    return BoardIds(ids, counts)


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
    async with services.sessions() as s:
        if conditions:
            return await _narrowed(s, now, conditions, urgencies, offset, limit, per_urgency)
        counts = await _counts(s, now)
        wanted = per_urgency if per_urgency is not None else {u: 0 for u in urgencies}
        ids: list[int] = []
        skip, left = offset, limit
        for u in Urgency:  # board order
            if u not in wanted or not counts[u]:
                continue
            if per_urgency is not None:
                if wanted[u]:
                    ids += await _page(s, now, u, 0, wanted[u])
                continue
            if skip >= counts[u]:  # the page starts past this urgency
                skip -= counts[u]
                continue
            if left <= 0:
                break
            part = await _page(s, now, u, skip, left)
            ids += part
            skip, left = 0, left - len(part)
    return BoardIds(ids, counts)
