"""SLA status boards and compliance reports: pure functions of tickets, their SLA status and `now`.

No I/O and no clock: callers (the Slack handlers, the CLI) load tickets, evaluate
their clocks with `rules.sla.evaluate`, and pass everything in. The definitions
below are the ones managers see in `/sla report` and `triage-bot report`:

- **Period.** A ticket belongs to a period by its opening instant in its plan's
  time zone (the rule case quotas use too). `this-month`, `last-month`,
  `this-quarter` and `last-quarter` are resolved from `now` in UTC.
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
- **At risk**: a running clock with less than 25% of its target left, or less
  than 30 minutes, counted on the clock's own calendar (business time for
  business-hours plans).
- **Late by**: elapsed time from the deadline to the response (or to `now` for
  a clock still running).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from enum import Enum
from typing import Any, Iterable, Literal, Mapping, Sequence
from zoneinfo import ZoneInfo

from rules.calendar import AlwaysOpenCalendar
from rules.policy import Plan
from rules.quota import QuotaPeriod, quota_period
from rules.sla import CLOCK_NAMES, ClockName, ClockState, ClockStatus, SlaStatus

UTC = timezone.utc
AT_RISK_SHARE = 0.25
AT_RISK_FLOOR = timedelta(minutes=30)
TREND_BUCKET_DAYS = 7

# -- periods ---------------------------------------------------------------------------

PERIOD_FORMS = ("this-month", "last-month", "this-quarter", "last-quarter", "YYYY-MM", "YYYY-Qn")
PERIOD_HELP = "this-month, last-month, this-quarter, last-quarter, YYYY-MM (e.g. 2026-11) or YYYY-Qn (e.g. 2026-Q4)"
_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-[qQ](\d)$")


class PeriodError(ValueError):
    """A period the report cannot read; the message lists the valid forms."""


@dataclass(frozen=True)
class Period:
    """A calendar month or quarter, as dates; placed in a time zone with `bounds`."""

    year: int
    first_month: int
    months: Literal[1, 3]

    @property
    def label(self) -> str:
        if self.months == 1:
            return f"{self.year}-{self.first_month:02d}"
        return f"{self.year}-Q{(self.first_month - 1) // 3 + 1}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.first_month, 1)

    @property
    def end_day(self) -> date:
        """The first day after the period."""
        m = self.first_month + self.months
        return date(self.year + (m - 1) // 12, (m - 1) % 12 + 1, 1)

    def bounds(self, tz: ZoneInfo | timezone) -> tuple[datetime, datetime]:
        """[start, end) as instants: local midnights in `tz`."""
        return datetime.combine(self.first_day, time(0), tz), datetime.combine(self.end_day, time(0), tz)

    def contains_local(self, local: datetime) -> bool:
        """Is this instant, read in its own time zone, inside the period?"""
        return self.first_day <= local.date() < self.end_day

    def previous(self) -> "Period":
        m = self.first_month - self.months
        return Period(self.year - 1, m + 12, self.months) if m < 1 else Period(self.year, m, self.months)


def _month_of(d: date) -> Period:
    return Period(d.year, d.month, 1)


def _quarter_of(d: date) -> Period:
    return Period(d.year, 3 * ((d.month - 1) // 3) + 1, 3)


def parse_period(text: str | None, now: datetime) -> Period:
    """`this-month` (default), `last-month`, `this-quarter`, `last-quarter`, `2026-11`, `2026-Q4`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    value = (text or "this-month").strip().lower()
    today = now.astimezone(UTC).date()
    relative = {
        "this-month": lambda: _month_of(today),
        "last-month": lambda: _month_of(today).previous(),
        "this-quarter": lambda: _quarter_of(today),
        "last-quarter": lambda: _quarter_of(today).previous(),
    }
    if value in relative:
        return relative[value]()
    m = _MONTH_RE.match(value)
    if m and 1 <= int(m.group(2)) <= 12 and int(m.group(1)) >= 1970:
        return Period(int(m.group(1)), int(m.group(2)), 1)
    q = _QUARTER_RE.match(value)
    if q and 1 <= int(q.group(2)) <= 4 and int(q.group(1)) >= 1970:
        return Period(int(q.group(1)), 3 * (int(q.group(2)) - 1) + 1, 3)
    raise PeriodError(f"{text!r} is not a period; use {PERIOD_HELP}")


# -- tickets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFacts:
    """What the report needs of one ticket: its identity and its SLA status (evaluated at `now`)."""

    key: str
    plan_id: str
    status: SlaStatus
    customer: str | None = None
    summary: str = ""
    state: str = "open"  # open, paused, resolved
    reporter_id: str | None = None
    assignee_id: str | None = None
    within_plan: bool = True
    channel_id: str | None = None

    @property
    def opened_at(self) -> datetime:
        """In the plan's time zone (as `evaluate` returns it)."""
        return self.status.opened_at

    @property
    def severity(self) -> str:
        """The current severity (after any reclassification)."""
        return self.status.severity

    @property
    def is_open(self) -> bool:
        return self.state != "resolved"


# -- the status board ------------------------------------------------------------------


class Urgency(str, Enum):
    BREACHED = "breached"
    AT_RISK = "at_risk"
    ON_TRACK = "on_track"
    NO_DEADLINE = "no_deadline"  # paused, not started, or best effort

    @property
    def rank(self) -> int:
        return list(Urgency).index(self)


@dataclass(frozen=True)
class ClockWatch:
    """One running clock as the board shows it."""

    clock: ClockName
    urgency: Urgency
    due: datetime
    left: timedelta  # open time left on the clock's calendar; negative: late by (elapsed)
    target: timedelta | None
    business_hours: bool  # `left` counts only the plan's open hours

    @property
    def late_by(self) -> timedelta | None:
        return -self.left if self.left < timedelta(0) else None


def classify(left: timedelta, target: timedelta | None) -> Urgency:
    """Breached past the deadline; at risk under 25% of the target or under 30 minutes left."""
    if left < timedelta(0):
        return Urgency.BREACHED
    if left < AT_RISK_FLOOR or (target is not None and target > timedelta(0) and left < target * AT_RISK_SHARE):
        return Urgency.AT_RISK
    return Urgency.ON_TRACK


def watch(clock: ClockState, now: datetime) -> ClockWatch | None:
    """The board's view of a clock that is running (before or past its deadline); None otherwise."""
    if not clock.active or clock.due is None:
        return None
    left = clock.remaining(now)
    assert left is not None
    return ClockWatch(
        clock=clock.name,
        urgency=classify(left, clock.target),
        due=clock.due,
        left=left,
        target=clock.target,
        business_hours=not isinstance(clock.calendar, AlwaysOpenCalendar),
    )


@dataclass(frozen=True)
class BoardRow:
    ticket: TicketFacts
    urgency: Urgency
    headline: ClockWatch | None  # the clock that puts the ticket where it is
    others: tuple[ClockWatch, ...] = ()  # its other running clocks, most urgent first


def _watch_key(w: ClockWatch) -> tuple[int, datetime]:
    return (w.urgency.rank, w.due)


def board_row(ticket: TicketFacts, now: datetime) -> BoardRow:
    watches = sorted((w for c in ticket.status.clocks.values() if (w := watch(c, now))), key=_watch_key)
    if not watches:
        return BoardRow(ticket, Urgency.NO_DEADLINE, None)
    return BoardRow(ticket, watches[0].urgency, watches[0], tuple(watches[1:]))


def status_board(tickets: Iterable[TicketFacts], now: datetime) -> list[BoardRow]:
    """Open tickets, breached first (most late first), then at risk, then on track, each by deadline;
    tickets with no running deadline (paused, best effort) last, oldest first."""
    rows = [board_row(t, now) for t in tickets if t.is_open]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(
        rows,
        key=lambda r: (r.urgency.rank, r.headline.due if r.headline else far, r.ticket.opened_at, r.ticket.key),
    )


# -- one ticket's deadlines ------------------------------------------------------------

Outcome = Literal["met", "missed", "breached", "running", "paused", "no_target", "not_started"]


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
                Breach(ticket.key, ticket.plan_id, ticket.severity, ticket.customer, v.clock, v.due, v.margin, v.outcome == "breached", v.period)
            )
    fr = status.clocks["first_response"]
    ack = fr.stopped_at - status.opened_at if fr.stopped_at is not None else None
    res = status.resolved_at - status.opened_at if status.resolved_at is not None else None
    return TicketOutcome(
        rates["first_response"], rates["update"], rates["resolution"], ack, res, tuple(breaches), tuple(verdicts)
    )


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


def _group(plan_id: str | None, severity: str | None, items: Sequence[tuple[TicketFacts, TicketOutcome]]) -> GroupStats:
    fr, upd, res = Rate(), Rate(), Rate()
    for _t, o in items:
        fr, upd, res = fr + o.first_response, upd + o.update, res + o.resolution
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


# -- quotas ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerCases:
    """A customer, its current plan, and when each of its tickets was opened (any period)."""

    name: str
    plan: Plan
    opened: tuple[datetime, ...] = ()


@dataclass(frozen=True)
class QuotaUse:
    customer: str
    plan_id: str
    period_label: str
    used: int
    limit: int | None
    complete: bool  # the counting period has ended

    @property
    def state(self) -> str:
        if self.limit is None:
            return "no case limit"
        if self.used > self.limit:
            return "over"
        return "at limit" if self.used == self.limit else "within"

    def describe(self) -> str:
        """`ACME: 11 of 10 in 2026-Q4 (over)`."""
        if self.limit is None:
            return f"{self.customer}: {self.used} case{'s' if self.used != 1 else ''} in {self.period_label} (no case limit)"
        so_far = "" if self.complete else ", so far"
        return f"{self.customer}: {self.used} of {self.limit} in {self.period_label} ({self.state}{so_far})"


def quota_periods(plan: Plan, period: Period, now: datetime) -> list[QuotaPeriod]:
    """The plan's counting periods that overlap the report period and have started by `now`."""
    start, end = period.bounds(plan.timezone)
    out: list[QuotaPeriod] = []
    qp = quota_period(plan, start)
    while qp is not None and qp.start < end and qp.start <= now:
        out.append(qp)
        qp = quota_period(plan, qp.end)
    return out


def quota_use(customers: Iterable[CustomerCases], period: Period, now: datetime) -> list[QuotaUse]:
    """Cases per customer in each of its plan's counting periods that overlap the report period.

    A plan without a case limit shows the customer's cases in the report period itself.
    """
    out: list[QuotaUse] = []
    for c in sorted(customers, key=lambda c: c.name.lower()):
        limit = c.plan.spec.limits.cases.max
        qps = quota_periods(c.plan, period, now)
        if limit is None or not qps:
            if limit is None:
                used = sum(1 for t in c.opened if period.contains_local(t.astimezone(c.plan.timezone)))
                out.append(QuotaUse(c.name, c.plan.id, period.label, used, None, now >= period.bounds(c.plan.timezone)[1]))
            continue
        for qp in qps:
            used = sum(1 for t in c.opened if qp.start <= t < qp.end)
            out.append(QuotaUse(c.name, c.plan.id, qp.label, used, limit, now >= qp.end))
    return out


# -- the report ------------------------------------------------------------------------


@dataclass(frozen=True)
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

    def to_dict(self) -> dict[str, Any]:
        return report_dict(self)

    def to_csv(self) -> str:
        return report_csv(self)


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

    chosen = sorted(
        (
            t
            for t in tickets
            if period.contains_local(t.opened_at)
            and wanted_customer(t.customer)
            and (plan_id is None or t.plan_id == plan_id)
        ),
        key=lambda t: (t.opened_at, t.key),
    )
    pairs = [(t, outcome(t, now)) for t in chosen]

    def order(pid: str, sev: str) -> tuple[str, int, str]:
        plan = plans.get(pid)
        ids = plan.severity_ids if plan else []
        return (pid, ids.index(sev) if sev in ids else len(ids), sev)

    keys = sorted({(t.plan_id, t.severity) for t, _o in pairs}, key=lambda k: order(*k))
    groups = tuple(_group(pid, sev, [(t, o) for t, o in pairs if (t.plan_id, t.severity) == (pid, sev)]) for pid, sev in keys)
    names = {}
    for pid, sev in keys:
        plan = plans.get(pid)
        names[(pid, sev)] = next((s.name for s in plan.severities if s.id == sev), sev) if plan else sev

    trend: list[TrendPoint] = []
    day = period.first_day
    while day < period.end_day:
        end = min(day + timedelta(days=TREND_BUCKET_DAYS), period.end_day)
        week = [(t, o) for t, o in pairs if day <= t.opened_at.date() < end]
        trend.append(
            TrendPoint(
                day,
                end,
                len(week),
                sum((o.first_response for _t, o in week), Rate()),
                sum((o.update for _t, o in week), Rate()),
                sum((o.resolution for _t, o in week), Rate()),
            )
        )
        day = end

    quota_customers = [
        c for c in customers if wanted_customer(c.name) and (plan_id is None or c.plan.id == plan_id)
    ]
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


# -- exports ---------------------------------------------------------------------------


def _minutes(td: timedelta | None) -> float | None:
    return None if td is None else round(td.total_seconds() / 60, 1)


def _iso(d: datetime | None) -> str | None:
    """Exports give every instant in UTC, so a column sorts and compares across plans' zones."""
    return d.astimezone(UTC).isoformat() if d else None


def _pct(rate: Rate) -> float | None:
    p = rate.percent
    return None if p is None else round(p, 1)


def _rate_dict(rate: Rate) -> dict[str, Any]:
    return {"met": rate.met, "total": rate.total, "percent": _pct(rate)}


def _durations_dict(d: DurationStats) -> dict[str, Any]:
    return {"count": d.count, "median_minutes": _minutes(d.median), "p90_minutes": _minutes(d.p90)}


def _breach_dict(b: Breach) -> dict[str, Any]:
    return {
        "ticket": b.ticket,
        "customer": b.customer,
        "plan": b.plan_id,
        "severity": b.severity,
        "clock": b.clock,
        "update_period": b.period,
        "due": _iso(b.due),
        "late_by_minutes": _minutes(b.late_by),
        "ongoing": b.ongoing,
    }


def _group_dict(g: GroupStats) -> dict[str, Any]:
    return {
        "plan": g.plan_id,
        "severity": g.severity,
        "tickets": g.tickets,
        "first_response": _rate_dict(g.first_response),
        "update": _rate_dict(g.update),
        "resolution": _rate_dict(g.resolution),
        "time_to_acknowledge": _durations_dict(g.acknowledge),
        "time_to_resolve": _durations_dict(g.resolve),
        "breaches": [_breach_dict(b) for b in g.breaches],
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data (`triage-bot report --json`)."""
    return {
        "period": report.period.label,
        "period_start": report.period.first_day.isoformat(),
        "period_end": report.period.end_day.isoformat(),
        "period_time_zone": "each ticket's plan time zone",
        "as_of": _iso(report.now),
        "customer": report.customer,
        "plan": report.plan_id,
        "total": _group_dict(report.total),
        "groups": [_group_dict(g) for g in report.groups],
        "quota": [
            {
                "customer": q.customer,
                "plan": q.plan_id,
                "period": q.period_label,
                "used": q.used,
                "limit": q.limit,
                "state": q.state,
                "complete": q.complete,
                "text": q.describe(),
            }
            for q in report.quota
        ],
        "trend": [
            {
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "tickets": p.tickets,
                "first_response": _rate_dict(p.first_response),
                "update": _rate_dict(p.update),
                "resolution": _rate_dict(p.resolution),
            }
            for p in report.trend
        ],
    }


CSV_COLUMNS = [
    "ticket",
    "customer",
    "plan",
    "severity",
    "state",
    "within_plan",
    "opened_at",
    "first_response_due",
    "first_response_at",
    "first_response",
    "first_response_late_minutes",
    "update_periods_met",
    "update_periods_total",
    "update_late_minutes_max",
    "resolution_due",
    "resolved_at",
    "resolution",
    "resolution_late_minutes",
    "minutes_to_acknowledge",
    "minutes_to_resolve",
]


def _csv_outcome(v: DeadlineVerdict | None) -> str:
    if v is None:
        return ""
    return {"no_target": "no target", "not_started": "not started"}.get(v.outcome, v.outcome)


def report_csv(report: Report) -> str:
    """One row per ticket opened in the period; instants in ISO 8601, UTC; durations in minutes."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for t, o in zip(report.tickets, report.outcomes):
        fr = next(v for v in o.verdicts if v.clock == "first_response")
        res = next(v for v in o.verdicts if v.clock == "resolution")
        late_updates = [b.late_by for b in o.breaches if b.clock == "update"]

        def late(v: DeadlineVerdict) -> float | None:
            return _minutes(v.margin) if v.outcome in ("missed", "breached") else None

        w.writerow(
            [
                t.key,
                t.customer or "",
                t.plan_id,
                t.severity,
                t.state,
                "yes" if t.within_plan else "no",
                _iso(t.opened_at),
                _iso(fr.due) or "",
                _iso(t.status.clocks["first_response"].stopped_at) or "",
                _csv_outcome(fr),
                _blank(late(fr)),
                o.update.met,
                o.update.total,
                _blank(_minutes(max(late_updates)) if late_updates else None),
                _iso(res.due) or "",
                _iso(t.status.resolved_at) or "",
                _csv_outcome(res),
                _blank(late(res)),
                _blank(_minutes(o.time_to_acknowledge)),
                _blank(_minutes(o.time_to_resolve)),
            ]
        )
    return buf.getvalue()


def _blank(v: Any) -> Any:
    return "" if v is None else v
