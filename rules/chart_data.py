"""What the compliance chart shows, as data (pure, tested): met % per clock per calendar bucket, breaches, severities.

Decisions a manager reading the chart relies on:

- Buckets are ISO calendar weeks (Monday to Sunday, clipped to the period), or days
  when the period so far spans 14 days or less. A ticket counts in the bucket of the
  day it was opened, in its plan's time zone (as the report counts it).
- Buckets that have not started by `now` are not drawn at all; a started bucket whose
  deadlines have no verdict yet has no bar (not a 0% bar); 0% with verdicts is a real bar.
- Updates count tickets, not update periods: a ticket met its updates when every one of
  its update deadlines with a verdict was met. (One chatty ticket with 48 updates no
  longer outweighs 23 first responses.)
- Breaches: deadlines missed or still running past due, per bucket and per severity.
- The target line is what the plan promises: every deadline met (100%).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, Mapping, Sequence

from rules.compliance import Rate, Report, TicketOutcome

SERIES = ("first_response", "update", "resolution")
SERIES_TITLE = {"first_response": "First response", "update": "Updates (per ticket)", "resolution": "Resolution"}
TARGET_PERCENT = 100.0
DAYS_UP_TO = 14  # a period so far no longer than this is drawn by day


@dataclass(frozen=True)
class Bucket:
    start: date
    end: date  # exclusive
    label: str  # "W48 Nov 23-29" or "Nov 30"
    tickets: int
    rates: Mapping[str, Rate]  # per series
    breaches: int


@dataclass(frozen=True)
class SeverityRow:
    label: str  # the severity's name (with the plan when the report spans several)
    tickets: int
    rates: Mapping[str, Rate]
    breaches: int


@dataclass(frozen=True)
class ChartData:
    title: str
    unit: Literal["week", "day"]
    buckets: tuple[Bucket, ...]  # started ones only, in order
    severities: tuple[SeverityRow, ...]  # most urgent first, as the report's groups
    target: float = TARGET_PERCENT


def ticket_rates(o: TicketOutcome) -> dict[str, Rate]:
    """The ticket's contribution per series: first response and resolution as counted; updates once per ticket."""
    update = Rate() if o.update.total == 0 else Rate(int(o.update.met == o.update.total), 1)
    return {"first_response": o.first_response, "update": update, "resolution": o.resolution}


def _sum(items: Sequence[TicketOutcome]) -> tuple[dict[str, Rate], int]:
    rates = {s: Rate() for s in SERIES}
    breaches = 0
    for o in items:
        for s, r in ticket_rates(o).items():
            rates[s] = rates[s] + r
        breaches += len(o.breaches)
    return rates, breaches


def _buckets(first: date, end: date, today: date) -> tuple[Literal["week", "day"], list[tuple[date, date, str]]]:
    """Started buckets of [first, end): ISO weeks, or days when the period so far is short."""
    shown_end = min(end, today + timedelta(days=1))
    if (shown_end - first).days <= DAYS_UP_TO:
        days = [(first + timedelta(days=i)) for i in range(max(0, (shown_end - first).days))]
        return "day", [(d, d + timedelta(days=1), f"{d:%a} {d:%b} {d.day}") for d in days]
    out = []
    monday = first - timedelta(days=first.weekday())
    while monday < shown_end:
        start, stop = max(monday, first), min(monday + timedelta(days=7), end)
        last = stop - timedelta(days=1)
        span = f"{start:%b} {start.day}" + (f"-{last.day}" if last.month == start.month else f"-{last:%b} {last.day}")
        if last == start:
            span = f"{start:%b} {start.day}"
        out.append((start, stop, f"W{start.isocalendar().week} {span}"))
        monday += timedelta(days=7)
    return "week", out


def chart_data(report: Report) -> ChartData:
    """The chart of a report: buckets of the period that have started by `report.now`, and the severities."""
    period = report.period
    unit, spans = _buckets(period.first_day, period.end_day, report.now.date())
    pairs = list(zip(report.tickets, report.outcomes))
    buckets = []
    for start, stop, label in spans:
        inside = [o for t, o in pairs if start <= t.opened_at.date() < stop]
        rates, breaches = _sum(inside)
        buckets.append(Bucket(start, stop, label, len(inside), rates, breaches))
    plans = {t.plan_id for t in report.tickets}
    severities = []
    for g in report.groups:
        inside = [o for t, o in pairs if (t.plan_id, t.severity) == (g.plan_id, g.severity)]
        rates, breaches = _sum(inside)
        name = report.severity_names.get((g.plan_id or "", g.severity or ""), g.severity or "")
        severities.append(SeverityRow(name if len(plans) == 1 else f"{g.plan_id}: {name}", len(inside), rates, breaches))
    scope = [f"SLA compliance {period.label}"] + [x for x in (report.customer, report.plan_id) if x]
    return ChartData(" · ".join(scope), unit, tuple(buckets), tuple(severities))
