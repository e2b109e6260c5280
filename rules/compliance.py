"""Compliance figures: each deadline's verdict, met rates, durations and the period report.

Pure functions of tickets (`rules.board.TicketFacts`), their SLA status and `now`.
The definitions below are the ones managers see in `/sla report` and
`triage-bot report` (periods: `rules.periods`; exports: `bot.exports`):

- **First response / resolution met %**: over the clocks that have a verdict:
  met, missed, or breached (still running past its deadline: it can no longer be
  met). Running, paused and untargeted clocks are not counted.
- **Update met %**: over update periods (each interval between updates, with the
  plan's interval or the next-update time the responder stated), plus the
  current period when it is running past its deadline.
- **Time to acknowledge**: elapsed (wall-clock) time from opening to the first
  human response; **time to resolve**: from opening to resolution, paused time
  included. Tickets without one are left out of that figure.
- **Median**: the middle value (the mean of the two middle ones for an even
  count). **p90**: nearest rank, the value at position ceil(0.9 n) in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Iterable, Literal, Mapping, Sequence

from rules.board import TicketFacts
from rules.periods import Period
from rules.policy import Plan
from rules.quota import CustomerCases, QuotaUse, quota_use
from rules.sla import CLOCK_NAMES, ClockName, ClockState, ClockStatus, SlaStatus

TREND_BUCKET_DAYS = 7


# -- one ticket's deadlines ------------------------------------------------------------

Outcome = Literal["met", "missed", "breached", "running", "paused", "no_target", "not_started"]


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class DeadlineVerdict:
    """One deadline of a ticket and how it went.

    `margin`: met -> how early; missed, breached -> how late (elapsed); running ->
    open time left on the clock's calendar; paused -> what was left at the pause.
    """

    clock: ClockName
    outcome: Outcome
    due: datetime | None = None
    at: datetime | None = None  # when the clock stopped (met, missed)
    margin: timedelta | None = None
    started_at: datetime | None = None
    period: int | None = None  # update periods: 1, 2, ...


def _verdict(clock: ClockState, now: datetime, period: int | None = None) -> DeadlineVerdict:
    s = clock.status
    if s is ClockStatus.MET:
        assert clock.due is not None and clock.stopped_at is not None
        return DeadlineVerdict(clock.name, "met", clock.due, clock.stopped_at, clock.due - clock.stopped_at, clock.started_at, period)
    if s is ClockStatus.MISSED:
        assert clock.due is not None and clock.stopped_at is not None
        return DeadlineVerdict(clock.name, "missed", clock.due, clock.stopped_at, clock.stopped_at - clock.due, clock.started_at, period)
    if s is ClockStatus.BREACHED:
        assert clock.due is not None
        return DeadlineVerdict(clock.name, "breached", clock.due, None, now - clock.due, clock.started_at, period)
    if s is ClockStatus.RUNNING:
        return DeadlineVerdict(clock.name, "running", clock.due, None, clock.remaining(now), clock.started_at, period)
    if s is ClockStatus.PAUSED:
        return DeadlineVerdict(clock.name, "paused", None, clock.paused_since, clock.remaining_at_pause, clock.started_at, period)
    if s is ClockStatus.NOT_STARTED:
        return DeadlineVerdict(clock.name, "not_started", period=period)
    return DeadlineVerdict(clock.name, "no_target", at=clock.stopped_at, started_at=clock.started_at, period=period)


def deadline_verdicts(status: SlaStatus, now: datetime) -> list[DeadlineVerdict]:
    """Every deadline of a ticket in order: first response, each update period, resolution."""
    out = [_verdict(status.clocks["first_response"], now)]
    upd = status.clocks["update"]
    for i, p in enumerate(upd.history, start=1):
        assert p.stopped_at is not None
        if p.met:
            out.append(DeadlineVerdict("update", "met", p.due, p.stopped_at, p.due - p.stopped_at, p.started_at, i))
        else:
            out.append(DeadlineVerdict("update", "missed", p.due, p.stopped_at, p.stopped_at - p.due, p.started_at, i))
    n = len(upd.history) + 1
    if upd.status in (ClockStatus.RUNNING, ClockStatus.BREACHED, ClockStatus.PAUSED, ClockStatus.NOT_STARTED):
        out.append(_verdict(upd, now, n))
    elif not upd.history:
        out.append(DeadlineVerdict("update", "no_target"))
    out.append(_verdict(status.clocks["resolution"], now))
    return out


# -- compliance figures ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class Rate:
    """met of total deadlines with a verdict."""

    met: int = 0
    total: int = 0

    @property
    def percent(self) -> float | None:
        return None if self.total == 0 else 100.0 * self.met / self.total

    @property
    def missed(self) -> int:
        return self.total - self.met

    def __add__(self, other: "Rate") -> "Rate":
        return Rate(self.met + other.met, self.total + other.total)


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class DurationStats:
    count: int = 0
    median: timedelta | None = None
    p90: timedelta | None = None

    @classmethod
    def of(cls, values: Iterable[timedelta]) -> "DurationStats":
        v = sorted(values)
        if not v:
            return cls()
        n = len(v)
        median = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
        p90 = v[math.ceil(0.9 * n) - 1]
        return cls(n, median, p90)


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class Breach:
    ticket: str
    plan_id: str
    severity: str
    customer: str | None
    clock: ClockName
    due: datetime
    late_by: timedelta
    ongoing: bool  # still running past the deadline at `now`
    period: int | None = None  # update period number


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class TicketOutcome:
    """One ticket's contribution to the figures."""

    first_response: Rate
    update: Rate
    resolution: Rate
    time_to_acknowledge: timedelta | None
    time_to_resolve: timedelta | None
    breaches: tuple[Breach, ...]
    verdicts: tuple[DeadlineVerdict, ...]


_COUNTED = {"met": True, "missed": False, "breached": False}


def outcome(ticket: TicketFacts, now: datetime) -> TicketOutcome:
    status = ticket.status
    verdicts = deadline_verdicts(status, now)
    rates: dict[str, Rate] = {name: Rate() for name in CLOCK_NAMES}
    breaches: list[Breach] = []
    for v in verdicts:
        if v.outcome not in _COUNTED:
            continue
        rates[v.clock] = rates[v.clock] + Rate(int(_COUNTED[v.outcome]), 1)
        if v.outcome != "met":
            assert v.due is not None and v.margin is not None
            breaches.append(
                Breach(
                    ticket.key,
                    ticket.plan_id,
                    ticket.severity,
                    ticket.customer,
                    v.clock,
                    v.due,
                    v.margin,
                    v.outcome == "breached",
                    v.period,
                )
            )
    fr = status.clocks["first_response"]
    ack = fr.stopped_at - status.opened_at if fr.stopped_at is not None else None
    res = status.resolved_at - status.opened_at if status.resolved_at is not None else None
    return TicketOutcome(rates["first_response"], rates["update"], rates["resolution"], ack, res, tuple(breaches), tuple(verdicts))


@dataclass(frozen=True)
class GroupStats:
    """Figures for one plan and severity (or all of them: plan_id and severity None)."""

    plan_id: str | None
    severity: str | None
    tickets: int
    first_response: Rate
    update: Rate
    resolution: Rate
    acknowledge: DurationStats
    resolve: DurationStats
    breaches: tuple[Breach, ...]


def _rates(outcomes: Iterable[TicketOutcome]) -> tuple[Rate, Rate, Rate]:
    """The first response, update and resolution rates summed over `outcomes` (in one pass)."""
    n = [0, 0, 0, 0, 0, 0]
    for o in outcomes:
        n[0] += o.first_response.met
        n[1] += o.first_response.total
        n[2] += o.update.met
        n[3] += o.update.total
        n[4] += o.resolution.met
        n[5] += o.resolution.total
    return Rate(n[0], n[1]), Rate(n[2], n[3]), Rate(n[4], n[5])


def _group(plan_id: str | None, severity: str | None, items: Sequence[tuple[TicketFacts, TicketOutcome]]) -> GroupStats:
    fr, upd, res = _rates(o for _t, o in items)
    breaches = sorted((b for _t, o in items for b in o.breaches), key=lambda b: (b.due, b.ticket, b.clock))
    return GroupStats(
        plan_id,
        severity,
        len(items),
        fr,
        upd,
        res,
        DurationStats.of(o.time_to_acknowledge for _t, o in items if o.time_to_acknowledge is not None),
        DurationStats.of(o.time_to_resolve for _t, o in items if o.time_to_resolve is not None),
        tuple(breaches),
    )


@dataclass(frozen=True)
class TrendPoint:
    """Tickets opened in one week of the period (the last may be shorter), and their verdicts."""

    start: date
    end: date  # exclusive
    tickets: int
    first_response: Rate
    update: Rate
    resolution: Rate

    @property
    def overall(self) -> Rate:
        return self.first_response + self.update + self.resolution


# -- the report ------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Report:
    period: Period
    now: datetime
    customer: str | None
    plan_id: str | None
    tickets: tuple[TicketFacts, ...]  # opened in the period, in opening order
    outcomes: tuple[TicketOutcome, ...]  # same order as tickets
    groups: tuple[GroupStats, ...]  # per plan and severity, most urgent severity first
    total: GroupStats
    quota: tuple[QuotaUse, ...]
    trend: tuple[TrendPoint, ...]
    severity_names: Mapping[tuple[str, str], str] = field(default_factory=dict)

    @property
    def breaches(self) -> tuple[Breach, ...]:
        return self.total.breaches

    def __repr__(self) -> str:
        # Short: a 50,000-ticket report's full repr is hundreds of MB (asyncio.run reprs the result of its task
        # on Python 3.11 when it checks the SIGINT handler on the way out).
        return f"Report({self.period.label}, {len(self.tickets)} tickets, customer={self.customer!r}, plan={self.plan_id!r})"


@dataclass(frozen=True)
class Totals:
    """A period's headline figures (the App Home's line): tickets opened, met rates, breaches."""

    period: Period
    tickets: int
    first_response: Rate
    update: Rate
    resolution: Rate
    breaches: int


def totals(report: Report) -> Totals:
    t = report.total
    return Totals(report.period, t.tickets, t.first_response, t.update, t.resolution, len(t.breaches))


def build_report(
    tickets: Iterable[TicketFacts],
    period: Period,
    now: datetime,
    plans: Mapping[str, Plan],
    customers: Iterable[CustomerCases] = (),
    *,
    customer: str | None = None,
    plan_id: str | None = None,
) -> Report:
    """Compliance figures for the tickets opened in `period` (in their plan's time zone), as of `now`.

    `customer` and `plan_id` narrow the tickets and the quota lines (customer
    names compare case-insensitively).
    """

    def wanted_customer(name: str | None) -> bool:
        return customer is None or (name or "").casefold() == customer.casefold()

    # each ticket's local opening is worked out once (50,000 tickets: the report's own cost counts)
    opened = [(t.opened_at, t) for t in tickets]
    chosen = sorted(
        (
            (at, t)
            for at, t in opened
            if period.contains_local(at) and wanted_customer(t.customer) and (plan_id is None or t.plan_id == plan_id)
        ),
        key=lambda p: (p[0], p[1].key),
    )
    pairs = [(t, outcome(t, now)) for _at, t in chosen]

    def order(pid: str, sev: str) -> tuple[str, int, str]:
        plan = plans.get(pid)
        ids = plan.severity_ids if plan else []
        return (pid, ids.index(sev) if sev in ids else len(ids), sev)

    by_group: dict[tuple[str, str], list[tuple[TicketFacts, TicketOutcome]]] = {}
    for t, o in pairs:
        by_group.setdefault((t.plan_id, t.severity), []).append((t, o))
    keys = sorted(by_group, key=lambda k: order(*k))
    groups = tuple(_group(pid, sev, by_group[(pid, sev)]) for pid, sev in keys)
    names = {}
    for pid, sev in keys:
        plan = plans.get(pid)
        names[(pid, sev)] = next((s.name for s in plan.severities if s.id == sev), sev) if plan else sev

    by_day: dict[date, list[TicketOutcome]] = {}
    for (at, _t), (_t2, o) in zip(chosen, pairs):
        by_day.setdefault(at.date(), []).append(o)
    trend: list[TrendPoint] = []
    day = period.first_day
    while day < period.end_day:
        end = min(day + timedelta(days=TREND_BUCKET_DAYS), period.end_day)
        week = [o for d in sorted(by_day) if day <= d < end for o in by_day[d]]
        fr, upd, res = _rates(week)
        trend.append(TrendPoint(day, end, len(week), fr, upd, res))
        day = end

    quota_customers = [c for c in customers if wanted_customer(c.name) and (plan_id is None or c.plan.id == plan_id)]
    return Report(
        period=period,
        now=now,
        customer=customer,
        plan_id=plan_id,
        tickets=tuple(t for t, _o in pairs),
        outcomes=tuple(o for _t, o in pairs),
        groups=groups,
        total=_group(None, None, pairs),
        quota=tuple(quota_use(quota_customers, period, now)),
        trend=tuple(trend),
        severity_names=names,
    )
