"""Support policies as data: Plan, Policy, TargetSet and PolicySet.

The file schema is `rules.policy_file`; here a validated file is a Policy with its plans
and calendars. Reading and cross-checking the files is `rules.policy_load`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from rules.calendar import AlwaysOpenCalendar, BusinessCalendar, Calendar
from rules.durations import Duration
from rules.errors import PolicyError, UnknownIdError
from rules.policy_file import (
    BEST_EFFORT,
    DEFAULT_PRIORITIES,
    PLACEHOLDER,
    CalendarSpec,
    Notifications,
    PlanSpec,
    PolicyFile,
    Priority,
    Severity,
)

# -- the loaded, cross-checked policy -------------------------------------------------


@dataclass(frozen=True)
class TargetSet:
    """Targets that apply to a ticket, after falling back to a published severity."""

    severity: str
    applied_severity: str | None
    first_response: timedelta | None
    update_interval: timedelta | None
    resolution: timedelta | None
    resolution_best_effort: bool
    placeholder: bool
    calendar: Calendar
    calendar_id: str


@dataclass(frozen=True)
class Plan:
    spec: PlanSpec
    policy: "Policy"

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def severities(self) -> list[Severity]:
        return self.policy.file.severities

    @property
    def severity_ids(self) -> list[str]:
        return [s.id for s in self.policy.file.severities]

    @property
    def priorities(self) -> list[Priority]:
        """The vendor's priority levels, or our generic business priority when it publishes none."""
        return self.policy.file.priorities or DEFAULT_PRIORITIES

    def priority(self, priority_id: str) -> Priority:
        for p in self.priorities:
            if p.id == priority_id:
                return p
        raise UnknownIdError("priority", priority_id, [p.id for p in self.priorities], context=f"plan {self.id}")

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.spec.timezone or self.policy.calendar_timezone(self.spec.calendar))

    @property
    def notifications(self) -> Notifications:
        return self.spec.notifications or self.policy.file.notifications

    @property
    def has_placeholders(self) -> bool:
        return any(PLACEHOLDER in (t.first_response, t.update_interval, t.resolution) for t in self.spec.targets.values())

    def severity(self, severity_id: str) -> Severity:
        for s in self.severities:
            if s.id == severity_id:
                return s
        raise UnknownIdError("severity", severity_id, self.severity_ids, context=f"plan {self.id}")

    def targets_for(self, severity_id: str) -> TargetSet:
        """The targets a ticket of this severity gets.

        A severity the plan does not publish takes the targets of the nearest less
        urgent severity it does publish (`applied_severity`); with none, no targets.
        """
        ids = self.severity_ids
        if severity_id not in ids:
            raise UnknownIdError("severity", severity_id, ids, context=f"plan {self.id}")
        applied = next((s for s in ids[ids.index(severity_id) :] if s in self.spec.targets), None)
        if applied is None:
            cal_id = self.spec.calendar
            return TargetSet(severity_id, None, None, None, None, True, False, self.policy.calendar(cal_id), cal_id)
        t = self.spec.targets[applied]
        cal_id = t.calendar or self.spec.calendar
        day = self.policy.business_day(cal_id)

        def span(v: Duration | str | None) -> timedelta | None:
            return v.to_timedelta(day) if isinstance(v, Duration) else None

        return TargetSet(
            severity=severity_id,
            applied_severity=applied,
            first_response=span(t.first_response),
            update_interval=span(t.update_interval),
            resolution=span(t.resolution),
            resolution_best_effort=t.resolution == BEST_EFFORT,
            placeholder=PLACEHOLDER in (t.first_response, t.update_interval, t.resolution),
            calendar=self.policy.calendar(cal_id),
            calendar_id=cal_id,
        )


class Policy:
    """One vendor's validated policy file."""

    def __init__(self, file: PolicyFile, source: str):
        self.file = file
        self.source = source
        self._calendars: dict[str, Calendar] = {}

    @cached_property
    def plans(self) -> dict[str, Plan]:
        return {p.id: Plan(p, self) for p in self.file.plans}

    def calendar_timezone(self, cal_id: str) -> str:
        return self.file.calendars[cal_id].timezone or self.file.vendor.timezone

    def calendar(self, cal_id: str) -> Calendar:
        if cal_id not in self._calendars:
            self._calendars[cal_id] = build_calendar(cal_id, self.file.calendars[cal_id])
        return self._calendars[cal_id]

    def business_day(self, cal_id: str) -> timedelta:
        spec = self.file.calendars[cal_id]
        if spec.business_day is not None:
            return spec.business_day.to_timedelta(timedelta(days=1))
        if spec.always_open:
            return timedelta(days=1)
        cal = self.calendar(cal_id)
        assert isinstance(cal, BusinessCalendar)
        per_day = cal.open_time_per_day()
        if per_day is None:  # validated in rules.policy_load._cross_check
            raise ValueError(f"calendar {cal_id!r} needs business_day")
        return per_day


@dataclass(frozen=True)
class Holidays:
    """A calendar's days off: its own dates, and a country's public holidays. A class, not a closure, so
    the loaded policies pickle (a big `/sla report` hands them to a child process)."""

    extra: frozenset[date]
    public: holidays_lib.HolidayBase | None = None

    def __call__(self, d: date) -> bool:
        return d in self.extra or (self.public is not None and d in self.public)


def build_calendar(cal_id: str, spec: CalendarSpec) -> Calendar:
    if spec.always_open:
        return AlwaysOpenCalendar(name=cal_id)
    public = None
    if spec.holidays.country:
        public = holidays_lib.country_holidays(spec.holidays.country, subdiv=spec.holidays.subdivision)
    is_holiday = Holidays(frozenset(spec.holidays.extra), public)
    assert spec.timezone is not None
    return BusinessCalendar(
        timezone=spec.timezone,
        hours=CalendarSpec.weekly_hours_of(spec.hours),
        is_holiday=is_holiday,
        name=cal_id,
    )


class PolicySet:
    """All loaded plans, by id. User files replace a preset of the same vendor id."""

    def __init__(self, policies: list[Policy]):
        self.policies = policies
        self.plans: dict[str, Plan] = {}
        problems = []
        for policy in policies:
            for plan_id, plan in policy.plans.items():
                if plan_id in self.plans:
                    problems.append(f"plan id {plan_id!r} is defined in both {self.plans[plan_id].policy.source} and {policy.source}")
                self.plans[plan_id] = plan
        if problems:
            raise PolicyError("policies", problems)

    def plan(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise UnknownIdError("plan", plan_id, sorted(self.plans)) from None


_LOADERS = ("PRESETS_DIR", "load_policies", "load_policy_file", "parse_policy")


def __getattr__(name: str) -> Any:
    """The loaders as `rules.policy` names, for the already applied migration 0003 (which imports
    `load_policies` from here); new code imports them from `rules.policy_load`."""
    if name in _LOADERS:
        from rules import policy_load

        return getattr(policy_load, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
