"""Plan limits: cases per period and who may open cases; each customer's case-quota use for a report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from rules.periods import Period, QuotaPeriod, quota_period
from rules.policy import Plan


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
    period = case_counting_period(plan, opened_at)
    if period is None:
        return QuotaCheck(True, 0, None, None)
    return check_case_count(plan, opened_at, sum(1 for t in earlier_openings if period.start <= t < period.end and t <= opened_at))


def case_counting_period(plan: Plan, opened_at: datetime) -> QuotaPeriod | None:
    """The counting period a case opened at `opened_at` falls in; None when the plan does not limit cases."""
    if plan.spec.limits.cases.max is None:
        return None
    return quota_period(plan, opened_at)


def check_case_count(plan: Plan, opened_at: datetime, earlier: int) -> QuotaCheck:
    """As `check_case_quota`, given how many earlier cases fall in `case_counting_period` (one SQL COUNT)."""
    period = case_counting_period(plan, opened_at)
    limit = plan.spec.limits.cases.max
    if period is None or limit is None:
        return QuotaCheck(True, 0, None, None)
    used = 1 + earlier
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


# -- quota use in a report period -------------------------------------------------------


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
