"""Periods: one definition (`Period`, a calendar month, quarter or year) for what a report covers
and for a plan's case-quota counting period.

- **Report period.** A ticket belongs to a period by its opening instant in its
  plan's time zone (the rule case quotas use too). `this-month`, `last-month`,
  `this-quarter` and `last-quarter` are resolved from `now` in UTC.
- **Quota period.** The plan's counting `Period` (month, quarter or year) that
  contains an instant, placed in the plan's time zone (`QuotaPeriod`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Literal
from zoneinfo import ZoneInfo

from rules.errors import PeriodError
from rules.inputs import YEAR_MAX, YEAR_MIN, year_in_range
from rules.policy import Plan

UTC = timezone.utc

PERIOD_FORMS = ("this-month", "last-month", "this-quarter", "last-quarter", "YYYY-MM", "YYYY-Qn")
PERIOD_HELP = (
    f"this-month, last-month, this-quarter, last-quarter, YYYY-MM (e.g. 2026-11) or YYYY-Qn (e.g. 2026-Q4), years {YEAR_MIN} to {YEAR_MAX}"
)
_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$", re.ASCII)
_QUARTER_RE = re.compile(r"^(\d{4})-[qQ](\d)$", re.ASCII)


@dataclass(frozen=True)
class Period:
    """A calendar month, quarter or year, as dates; placed in a time zone with `bounds`."""

    year: int
    first_month: int
    months: Literal[1, 3, 12]

    @classmethod
    def containing(cls, day: date, months: Literal[1, 3, 12]) -> "Period":
        """The month, quarter or year that `day` falls in."""
        return cls(day.year, months * ((day.month - 1) // months) + 1, months)

    @property
    def label(self) -> str:
        if self.months == 1:
            return f"{self.year}-{self.first_month:02d}"
        if self.months == 3:
            return f"{self.year}-Q{(self.first_month - 1) // 3 + 1}"
        return f"{self.year}"

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


def parse_period(text: str | None, now: datetime) -> Period:
    """`this-month` (default), `last-month`, `this-quarter`, `last-quarter`, `2026-11`, `2026-Q4`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    value = (text or "this-month").strip().lower()
    today = now.astimezone(UTC).date()
    relative = {
        "this-month": lambda: Period.containing(today, 1),
        "last-month": lambda: Period.containing(today, 1).previous(),
        "this-quarter": lambda: Period.containing(today, 3),
        "last-quarter": lambda: Period.containing(today, 3).previous(),
    }
    if value in relative:
        return relative[value]()
    m = _MONTH_RE.match(value)
    if m and 1 <= int(m.group(2)) <= 12 and year_in_range(int(m.group(1))):
        return Period(int(m.group(1)), int(m.group(2)), 1)
    q = _QUARTER_RE.match(value)
    if q and 1 <= int(q.group(2)) <= 4 and year_in_range(int(q.group(1))):
        return Period(int(q.group(1)), 3 * (int(q.group(2)) - 1) + 1, 3)
    raise PeriodError(f"{text!r} is not a period; use {PERIOD_HELP}")


# -- quota periods ---------------------------------------------------------------------

PER_MONTHS: dict[str, Literal[1, 3, 12]] = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class QuotaPeriod:
    """A plan's counting period: a `Period` placed in the plan's time zone, [start, end)."""

    period: Period
    start: datetime
    end: datetime

    @property
    def label(self) -> str:  # "2026-Q4", "2026-11", "2026"
        return self.period.label


def quota_period(plan: Plan, at: datetime) -> QuotaPeriod | None:
    """The plan's counting period containing `at`, in the plan's time zone; None if unlimited."""
    per = plan.spec.limits.cases.per
    if per is None:
        return None
    period = Period.containing(at.astimezone(plan.timezone).date(), PER_MONTHS[per])
    return QuotaPeriod(period, *period.bounds(plan.timezone))
