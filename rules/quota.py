"""Plan limits: cases per period and who may open cases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Iterable

from rules.policy import Plan


@dataclass(frozen=True)
class QuotaPeriod:
    start: datetime
    end: datetime
    label: str  # "2026-Q4", "2026-11", "2026"


def quota_period(plan: Plan, at: datetime) -> QuotaPeriod | None:
    """The plan's counting period containing `at`, in the plan's time zone; None if unlimited."""
    limit = plan.spec.limits.cases
    if limit.per is None:
        return None
    tz = plan.timezone
    local = at.astimezone(tz)
    y, m = local.year, local.month
    if limit.per == "month":
        first, months, label = m, 1, f"{y}-{m:02d}"
    elif limit.per == "quarter":
        q = (m - 1) // 3
        first, months, label = 3 * q + 1, 3, f"{y}-Q{q + 1}"
    else:
        first, months, label = 1, 12, f"{y}"
    end_m = first + months
    end_y, end_m = (y + 1, end_m - 12) if end_m > 12 else (y, end_m)
    start = datetime.combine(local.date().replace(month=first, day=1), time(0), tz)
    end = datetime.combine(local.date().replace(year=end_y, month=end_m, day=1), time(0), tz)
    return QuotaPeriod(start, end, label)


@dataclass(frozen=True)
class QuotaCheck:
    within_plan: bool
    used: int  # cases in the period including this one
    limit: int | None
    period: QuotaPeriod | None

    def describe(self) -> str:
        if self.limit is None or self.period is None:
            return "unlimited cases"
        state = "within plan" if self.within_plan else "over quota: outside the plan"
        return f"case {self.used} of {self.limit} in {self.period.label} ({state})"


def check_case_quota(plan: Plan, opened_at: datetime, earlier_openings: Iterable[datetime]) -> QuotaCheck:
    """Is a new case at `opened_at` within the plan's quota, given the customer's earlier cases?

    Over quota the ticket is still opened, marked as outside the plan.
    """
    period = quota_period(plan, opened_at)
    limit = plan.spec.limits.cases.max
    if period is None or limit is None:
        return QuotaCheck(True, 0, None, None)
    used = 1 + sum(1 for t in earlier_openings if period.start <= t < period.end and t <= opened_at)
    return QuotaCheck(used <= limit, used, limit, period)


@dataclass(frozen=True)
class ContactCheck:
    allowed: bool
    reason: str


def check_contact(plan: Plan, user_id: str, registered_contacts: Iterable[str]) -> ContactCheck:
    """May this user open cases under the plan? Plans with a contact limit allow only named contacts."""
    limit = plan.spec.limits.contacts.max
    if limit is None:
        return ContactCheck(True, "the plan allows any contact")
    contacts = list(registered_contacts)
    if user_id in contacts:
        return ContactCheck(True, "registered contact")
    return ContactCheck(
        False,
        f"{plan.spec.name} allows cases only from its {limit} named contact(s)"
        + (f" ({plan.spec.limits.contacts.note})" if plan.spec.limits.contacts.note else ""),
    )
