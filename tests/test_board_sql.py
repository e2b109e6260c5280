"""storage.board against the board's definition (rules.board), on a varied set of stored clock records.

The whole board is read clock by clock (index range scans, a page at a time) and a narrowed board
("mine") ranks its tickets grouped; both must give the order and counts of the definition: each open
ticket takes its most urgent running clock (breached: due before now; at risk: at-risk instant
reached; else on track), then the earliest deadline; tickets with no running deadline come last,
oldest first; ties by opening, then id.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, true

from bot.services import build_services
from bot.settings import Settings
from rules.board import Urgency
from storage.board import board_ids, place_on_board
from storage.db import upgrade
from storage.models import SlaClockRow, Ticket

UTC = timezone.utc
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def varied(rng: random.Random, n: int) -> tuple[list[Ticket], list[SlaClockRow]]:
    """Tickets with 0-3 clocks each: running (due in the past or future, at-risk instant reached or not, ties),
    paused, stopped; some tickets paused or resolved (a resolved one's clock may still run)."""
    tickets, clocks = [], []
    for i in range(1, n + 1):
        opened = T0 + rng.choice([0, 5, 5, 10, 30]) * M  # ties on opening
        state = rng.choice(["open"] * 6 + ["paused", "resolved"])
        tickets.append(
            Ticket(
                id=i,
                plan_id="p",
                reporter_id=f"U{i % 3}",
                channel_id="C",
                summary=f"t{i}",
                description="",
                severity="high",
                state=state,
                opened_at=opened,
                within_plan=True,
                answers={},
            )
        )
        for name in rng.sample(["first_response", "update", "resolution"], rng.randint(0, 3)):
            status = rng.choice(["running"] * 5 + ["paused", "met", "missed", "none"])
            due = T0 + rng.choice([20, 40, 60, 60, 90, 120, 240]) * M if status != "none" else None
            at_risk = due - rng.choice([15, 30, 45, 90]) * M if status == "running" and due is not None else None
            clocks.append(SlaClockRow(ticket_id=i, clock=name, status=status, due_at=due, at_risk_at=at_risk))
    return tickets, clocks


def placed(tickets: list[Ticket], clocks: list[SlaClockRow]) -> list[Ticket]:
    """The tickets with their place on the board, as `storage.tickets.store_clocks` writes it."""
    for t in tickets:
        place_on_board(t, [c for c in clocks if c.ticket_id == t.id])
    return tickets


def definition(tickets: list[Ticket], clocks: list[SlaClockRow], now: datetime) -> tuple[list[int], dict[Urgency, int]]:
    far = datetime.max.replace(tzinfo=UTC)
    rows = []
    for t in tickets:
        if t.state == "resolved":
            continue
        running = [c for c in clocks if c.ticket_id == t.id and c.status == "running" and c.due_at is not None]
        keyed = [(0 if c.due_at < now else 1 if c.at_risk_at <= now else 2, c.due_at) for c in running]
        rank, due = min(keyed) if keyed else (3, far)
        rows.append((rank, due, t.opened_at, t.id))
    rows.sort()
    by_rank = {u.rank: u for u in Urgency}
    counts = {u: 0 for u in Urgency}
    for r in rows:
        counts[by_rank[r[0]]] += 1
    return [r[3] for r in rows], counts


async def test_board_in_sql_is_the_definition(database_url) -> None:
    services = build_services(Settings(_env_file=None, database_url=database_url))
    try:
        await upgrade(services.engine)
        tickets, clocks = varied(random.Random(10), 120)
        async with services.sessions() as s, s.begin():
            s.add_all(placed(tickets, clocks))
            await s.flush()
            s.add_all(clocks)
        await _assert_board(services, tickets, clocks)
    finally:
        await services.close()


async def test_migration_0013_places_existing_tickets_on_the_board(database_url) -> None:
    """Tickets stored before the board read their place from the tickets table get it from their clock records."""
    services = build_services(Settings(_env_file=None, database_url=database_url))
    try:
        await upgrade(services.engine, "0012_tickets_opened_index")
        tickets, clocks = varied(random.Random(11), 120)
        before = ("id", "plan_id", "reporter_id", "channel_id", "summary", "description", "severity", "state", "opened_at")
        async with services.sessions() as s, s.begin():
            await s.execute(insert(Ticket.__table__), [{k: getattr(t, k) for k in before} for t in tickets])
            await s.execute(
                insert(SlaClockRow.__table__),
                [{k: getattr(c, k) for k in ("ticket_id", "clock", "status", "due_at", "at_risk_at")} for c in clocks],
            )
        await upgrade(services.engine)
        await _assert_board(services, tickets, clocks)
    finally:
        await services.close()


async def _assert_board(services, tickets: list[Ticket], clocks: list[SlaClockRow]) -> None:
    for minutes in (0, 10, 25, 45, 59, 60, 61, 100, 200, 300):
        now = T0 + minutes * M
        order, counts = definition(tickets, clocks, now)
        whole = await board_ids(services, now, limit=1000)
        narrowed = await board_ids(services, now, true(), limit=1000)  # any condition: the grouped query
        assert whole.counts == counts == narrowed.counts, minutes
        assert whole.ids == order == narrowed.ids, minutes
        for offset, limit in ((0, 7), (7, 7), (counts[Urgency.BREACHED] - 2, 5), (len(order) - 3, 10)):
            page = await board_ids(services, now, offset=max(0, offset), limit=limit)
            assert page.ids == order[max(0, offset) : max(0, offset) + limit]
        urgent = (Urgency.BREACHED, Urgency.AT_RISK)
        in_order = [i for i, u in zip(order, _urgencies(counts)) if u in urgent]
        assert (await board_ids(services, now, urgencies=urgent, offset=3, limit=8)).ids == in_order[3:11]
        for u in Urgency:
            of_u = [i for i, v in zip(order, _urgencies(counts)) if v is u]
            assert (await board_ids(services, now, urgencies=(u,), offset=2, limit=4)).ids == of_u[2:6]
        firsts = await board_ids(services, now, per_urgency={Urgency.BREACHED: 3, Urgency.ON_TRACK: 2, Urgency.NO_DEADLINE: 4})
        expected = [
            i
            for u, n in ((Urgency.BREACHED, 3), (Urgency.ON_TRACK, 2), (Urgency.NO_DEADLINE, 4))
            for i in [i for i, v in zip(order, _urgencies(counts)) if v is u][:n]
        ]
        assert firsts.ids == expected


def _urgencies(counts: dict[Urgency, int]) -> list[Urgency]:
    return [u for u in Urgency for _ in range(counts[u])]
