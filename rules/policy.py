"""Support policies as data: a YAML file per vendor, validated at load.

A bad file is refused with messages that name the file, the plan and the field,
so an operator can fix it without reading our code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_lib
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from rules.calendar import AlwaysOpenCalendar, BusinessCalendar, Calendar, WeeklyHours
from rules.durations import Duration

PRESETS_DIR = Path(__file__).parent / "presets"

_DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

BEST_EFFORT = "best-effort"
PLACEHOLDER = "operator-must-set"


class PolicyError(ValueError):
    """A policy file that cannot be used; `problems` lists each one, fully located."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid policy\n" + "\n".join(f"  - {p}" for p in problems))


# -- field types -----------------------------------------------------------------------


def _parse_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    return Duration.parse(value)


DurationField = Annotated[Duration, BeforeValidator(_parse_duration)]


def _parse_target(value: Any) -> Duration | str | None:
    """A target: a duration, `best-effort`, `operator-must-set`, or absent."""
    if value is None or isinstance(value, Duration):
        return value
    if isinstance(value, str) and value.strip().lower() in (BEST_EFFORT, PLACEHOLDER):
        return value.strip().lower()
    return Duration.parse(value)


TargetField = Annotated[Duration | str | None, BeforeValidator(_parse_target)]


def _parse_day_range(key: str) -> list[int]:
    """`mon-fri`, `sat`, `mon,wed` -> weekday numbers."""
    days: list[int] = []
    for part in str(key).lower().split(","):
        part = part.strip()
        if "-" in part:
            a, b = (p.strip()[:3] for p in part.split("-", 1))
            if a not in _DAY_NAMES or b not in _DAY_NAMES:
                raise ValueError(f"unknown weekday range {key!r} (use e.g. mon-fri)")
            i, j = _DAY_NAMES.index(a), _DAY_NAMES.index(b)
            if j < i:
                raise ValueError(f"weekday range {key!r} runs backwards")
            days.extend(range(i, j + 1))
        else:
            if part[:3] not in _DAY_NAMES:
                raise ValueError(f"unknown weekday {part!r} (use mon, tue, ... sun)")
            days.append(_DAY_NAMES.index(part[:3]))
    return days


def _parse_span(text: str) -> tuple[time, time | None]:
    m = _HOURS_RE.match(str(text))
    if not m:
        raise ValueError(f"opening hours {text!r} must look like 09:00-18:00 (00:00-24:00 for all day)")
    h1, m1, h2, m2 = map(int, m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"opening hours {text!r}: not a time of day")
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise ValueError(f"opening hours {text!r} end before they start")
    return start, end


# -- the file model --------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(_Strict):
    id: str
    name: str
    definition: str
    examples: list[str] = Field(default_factory=list)
    request_via: list[str] = Field(default_factory=list)


class Priority(_Strict):
    id: str
    name: str
    definition: str
    request_via: list[str] = Field(default_factory=list)


class HolidaySpec(_Strict):
    country: str | None = None
    subdivision: str | None = None
    extra: list[date] = Field(default_factory=list)

    @field_validator("country")
    @classmethod
    def _known_country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        supported = holidays_lib.list_supported_countries()
        if v.upper() not in supported:
            raise ValueError(f"unknown holiday country {v!r} (use an ISO 3166 code such as PL, DE, FI)")
        return v.upper()

    def model_post_init(self, _ctx: Any) -> None:
        if self.subdivision is not None:
            if self.country is None:
                raise ValueError("holidays.subdivision needs holidays.country")
            subdivs = holidays_lib.list_supported_countries()[self.country]
            if self.subdivision not in subdivs:
                raise ValueError(
                    f"unknown subdivision {self.subdivision!r} for {self.country} (valid: {', '.join(subdivs)})"
                )


class CalendarSpec(_Strict):
    """Either `always_open: true` (24/7) or weekly `hours` in `timezone`."""

    always_open: bool = False
    timezone: str | None = None
    hours: dict[str, str | list[str]] = Field(default_factory=dict)
    business_day: DurationField | None = None
    holidays: HolidaySpec = Field(default_factory=HolidaySpec)
    description: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if v not in available_timezones():
            raise ValueError(f"unknown time zone {v!r} (use an IANA name such as Europe/Warsaw)")
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:  # pragma: no cover - defensive
            raise ValueError(f"unknown time zone {v!r}: {e}") from e
        return v

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, v: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        cls.weekly_hours_of(v)  # raises on bad syntax or overlap
        return v

    @staticmethod
    def weekly_hours_of(hours: dict[str, str | list[str]]) -> tuple[WeeklyHours, ...]:
        out: list[WeeklyHours] = []
        seen: dict[int, list[tuple[time, time | None, str]]] = {}
        for key, spans in hours.items():
            for day in _parse_day_range(key):
                for span in [spans] if isinstance(spans, str) else spans:
                    start, end = _parse_span(span)
                    for s, e, text in seen.get(day, []):
                        if start < (e or time.max) and s < (end or time.max) or start == s:
                            raise ValueError(
                                f"overlapping opening hours on {_DAY_NAMES[day]}: {text} and {span} ({key!r})"
                            )
                    seen.setdefault(day, []).append((start, end, span))
                    out.append(WeeklyHours(day, start, end))
        return tuple(out)

    def model_post_init(self, _ctx: Any) -> None:
        if self.always_open and self.hours:
            raise ValueError("a calendar is either always_open or has hours, not both")
        if not self.always_open:
            if not self.hours:
                raise ValueError("a calendar needs hours (e.g. mon-fri: 09:00-18:00) or always_open: true")
            if not self.timezone:
                raise ValueError("a calendar with hours needs a timezone")


class SeverityTarget(_Strict):
    first_response: TargetField = None
    update_interval: TargetField = None
    resolution: TargetField = None
    calendar: str | None = None
    note: str | None = None


class CaseLimit(_Strict):
    max: int | None = Field(default=None, ge=1)
    per: Literal["month", "quarter", "year"] | None = None
    note: str | None = None

    def model_post_init(self, _ctx: Any) -> None:
        if (self.max is None) != (self.per is None):
            raise ValueError("cases needs both max and per (month, quarter or year), or neither (unlimited)")


class ContactLimit(_Strict):
    max: int | None = Field(default=None, ge=1)
    min: int | None = Field(default=None, ge=1)
    note: str | None = None


class PlanLimits(_Strict):
    cases: CaseLimit = Field(default_factory=CaseLimit)
    contacts: ContactLimit = Field(default_factory=ContactLimit)
    channels: list[str] = Field(default_factory=list)


class Reminder(_Strict):
    """Before a deadline: at a share of the target, or a fixed time before it."""

    percent: float | None = Field(default=None, gt=0, lt=100)
    before: DurationField | None = None

    def model_post_init(self, _ctx: Any) -> None:
        if (self.percent is None) == (self.before is None):
            raise ValueError("a reminder has exactly one of percent or before")


class EscalationLevel(_Strict):
    level: int = Field(ge=1)
    notify: str
    after: DurationField = Duration()
    repeat_every: DurationField | None = None


class Notifications(_Strict):
    reminders: list[Reminder] = Field(default_factory=list)
    escalation: list[EscalationLevel] = Field(default_factory=list)


class Question(_Strict):
    id: str
    text: str
    help: str | None = None


class ClassificationRule(_Strict):
    when: dict[str, bool] = Field(default_factory=dict)
    severity: str


class Classification(_Strict):
    questions: list[Question] = Field(default_factory=list)
    rules: list[ClassificationRule] = Field(default_factory=list)


class PlanSpec(_Strict):
    id: str
    name: str
    description: str | None = None
    calendar: str
    timezone: str | None = None
    limits: PlanLimits = Field(default_factory=PlanLimits)
    targets: dict[str, SeverityTarget] = Field(default_factory=dict)
    notifications: Notifications | None = None
    notes: list[str] = Field(default_factory=list)


class VendorSpec(_Strict):
    id: str
    name: str
    source: str | None = None
    timezone: str

    @field_validator("timezone")
    @classmethod
    def _known_tz(cls, v: str) -> str:
        return CalendarSpec._known_tz(v)  # type: ignore[return-value]


class PolicyFile(_Strict):
    vendor: VendorSpec
    severities: list[Severity] = Field(min_length=1)
    priorities: list[Priority] = Field(default_factory=list)
    calendars: dict[str, CalendarSpec] = Field(min_length=1)
    classification: Classification = Field(default_factory=Classification)
    notifications: Notifications = Field(default_factory=Notifications)
    plans: list[PlanSpec] = Field(min_length=1)


DEFAULT_PRIORITIES = [
    Priority(id="p1", name="P1 - Critical", definition="Critical business impact."),
    Priority(id="p2", name="P2 - High", definition="Significant business impact."),
    Priority(id="p3", name="P3 - Medium", definition="Limited business impact."),
    Priority(id="p4", name="P4 - Low", definition="Minimal or no business impact."),
]

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
        return any(
            PLACEHOLDER in (t.first_response, t.update_interval, t.resolution) for t in self.spec.targets.values()
        )

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


class UnknownIdError(KeyError):
    def __init__(self, kind: str, value: str, valid: list[str], context: str | None = None):
        self.kind, self.value, self.valid = kind, value, valid
        where = f" in {context}" if context else ""
        super().__init__(f"unknown {kind} {value!r}{where}; valid: {', '.join(valid)}")

    def __str__(self) -> str:
        return str(self.args[0])


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
        if per_day is None:  # validated in _cross_check
            raise ValueError(f"calendar {cal_id!r} needs business_day")
        return per_day


def build_calendar(cal_id: str, spec: CalendarSpec) -> Calendar:
    if spec.always_open:
        return AlwaysOpenCalendar(name=cal_id)
    extra = frozenset(spec.holidays.extra)
    if spec.holidays.country:
        public = holidays_lib.country_holidays(spec.holidays.country, subdiv=spec.holidays.subdivision)

        def is_holiday(d: date) -> bool:
            return d in extra or d in public

    else:

        def is_holiday(d: date) -> bool:
            return d in extra

    assert spec.timezone is not None
    return BusinessCalendar(
        timezone=spec.timezone,
        hours=CalendarSpec.weekly_hours_of(spec.hours),
        is_holiday=is_holiday,
        name=cal_id,
    )


# -- loading ---------------------------------------------------------------------------


def _locate(loc: tuple[Any, ...], raw: Any) -> str:
    """Turn a pydantic location into `plan 'x': targets.s1.first_response`."""
    parts: list[str] = []
    node = raw
    prefix = ""
    for i, key in enumerate(loc):
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            node = None
        if isinstance(key, int) and i > 0 and loc[i - 1] in ("plans", "severities", "priorities") and isinstance(node, dict):
            label = {"plans": "plan", "severities": "severity", "priorities": "priority"}[loc[i - 1]]
            ident = node.get("id", f"#{key + 1}")
            parts.pop()
            prefix = f"{label} {ident!r}: "
            parts = []
            continue
        parts.append(str(key) if not isinstance(key, int) else f"[{key}]")
    return prefix + ".".join(parts).replace(".[", "[")


def _cross_check(f: PolicyFile) -> list[str]:
    problems: list[str] = []
    sev_ids = [s.id for s in f.severities]
    pri_ids = [p.id for p in f.priorities]
    for kind, ids in (("severity", sev_ids), ("priority", pri_ids)):
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            problems.append(f"duplicate {kind} ids: {', '.join(sorted(dupes))}")
    plan_ids = [p.id for p in f.plans]
    for dupe in sorted({i for i in plan_ids if plan_ids.count(i) > 1}):
        problems.append(f"duplicate plan id {dupe!r}")
    cal_ids = list(f.calendars)

    for cal_id, cal in f.calendars.items():
        if not cal.always_open and cal.business_day is None:
            if build_calendar(cal_id, cal).open_time_per_day() is None:  # type: ignore[union-attr]
                problems.append(f"calendars.{cal_id}: days differ in length; set business_day (e.g. 8h)")

    def check_notifications(n: Notifications, where: str) -> None:
        levels = [e.level for e in n.escalation]
        if levels != sorted(set(levels)):
            problems.append(f"{where}notifications.escalation: levels must be unique and ascending, got {levels}")

    check_notifications(f.notifications, "")
    questions = {q.id for q in f.classification.questions}
    for i, rule in enumerate(f.classification.rules):
        if rule.severity not in sev_ids:
            problems.append(
                f"classification.rules[{i}].severity: unknown severity {rule.severity!r} (valid: {', '.join(sev_ids)})"
            )
        for q in rule.when:
            if q not in questions:
                problems.append(f"classification.rules[{i}].when: unknown question {q!r} (valid: {', '.join(sorted(questions))})")
    if f.classification.questions and (not f.classification.rules or f.classification.rules[-1].when):
        problems.append("classification.rules: the last rule must have no `when` (the default severity)")

    for plan in f.plans:
        where = f"plan {plan.id!r}: "
        if plan.calendar not in cal_ids:
            problems.append(f"{where}calendar: unknown calendar {plan.calendar!r} (valid: {', '.join(cal_ids)})")
        if plan.timezone is not None:
            try:
                CalendarSpec._known_tz(plan.timezone)
            except ValueError as e:
                problems.append(f"{where}timezone: {e}")
        for sev, target in plan.targets.items():
            if sev not in sev_ids:
                problems.append(f"{where}targets.{sev}: unknown severity {sev!r} (valid: {', '.join(sev_ids)})")
            if target.calendar is not None and target.calendar not in cal_ids:
                problems.append(
                    f"{where}targets.{sev}.calendar: unknown calendar {target.calendar!r} (valid: {', '.join(cal_ids)})"
                )
            for field in ("first_response", "update_interval"):
                if getattr(target, field) == BEST_EFFORT:
                    problems.append(f"{where}targets.{sev}.{field}: best-effort is only for resolution")
            for field in ("first_response", "update_interval", "resolution"):
                v = getattr(target, field)
                if isinstance(v, Duration) and v == Duration():
                    problems.append(f"{where}targets.{sev}.{field}: a target must be longer than zero")
        if plan.notifications is not None:
            check_notifications(plan.notifications, where)
    return problems


def parse_policy(text: str, source: str) -> Policy:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(source, [f"not valid YAML{at}: {getattr(e, 'problem', e)}"]) from None
    if not isinstance(raw, dict):
        raise PolicyError(source, ["the file must be a mapping with vendor, severities, calendars and plans"])
    try:
        file = PolicyFile.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            loc = _locate(tuple(err["loc"]), raw)
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling)"
            problems.append(f"{loc}: {msg}" if loc else msg)
        raise PolicyError(source, problems) from None
    problems = _cross_check(file)
    if problems:
        raise PolicyError(source, problems)
    return Policy(file, source)


def load_policy_file(path: Path) -> Policy:
    return parse_policy(Path(path).read_text(encoding="utf-8"), str(path))


class PolicySet:
    """All loaded plans, by id. User files replace a preset of the same vendor id."""

    def __init__(self, policies: list[Policy]):
        self.policies = policies
        self.plans: dict[str, Plan] = {}
        problems = []
        for policy in policies:
            for plan_id, plan in policy.plans.items():
                if plan_id in self.plans:
                    problems.append(
                        f"plan id {plan_id!r} is defined in both {self.plans[plan_id].policy.source} and {policy.source}"
                    )
                self.plans[plan_id] = plan
        if problems:
            raise PolicyError("policies", problems)

    def plan(self, plan_id: str) -> Plan:
        try:
            return self.plans[plan_id]
        except KeyError:
            raise UnknownIdError("plan", plan_id, sorted(self.plans)) from None


def load_policies(extra_dir: Path | None = None, include_presets: bool = True) -> PolicySet:
    """Presets, then the operator's own files (`*.yaml`/`*.yml` in `extra_dir`)."""
    by_vendor: dict[str, Policy] = {}
    files: list[Path] = []
    if include_presets:
        files += sorted(PRESETS_DIR.glob("*.yaml"))
    if extra_dir is not None:
        extra_dir = Path(extra_dir)
        if not extra_dir.is_dir():
            raise PolicyError(str(extra_dir), ["policy folder does not exist or is not a folder"])
        files += sorted([*extra_dir.glob("*.yaml"), *extra_dir.glob("*.yml")])
    for path in files:
        policy = load_policy_file(path)
        by_vendor[policy.file.vendor.id] = policy  # later (operator) files win
    return PolicySet(list(by_vendor.values()))
