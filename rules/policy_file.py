"""The policy file: a YAML file per vendor, its pydantic schema and field parsing.

A bad file is refused with messages that name the file, the plan and the field,
so an operator can fix it without reading our code. `rules.policy` loads a file
into the objects the rest of the code uses (Plan, Policy, PolicySet).
"""

from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import holidays as holidays_lib
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from rules.calendar import WeeklyHours
from rules.durations import Duration

_DAY_NAMES = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_HOURS_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

BEST_EFFORT = "best-effort"
PLACEHOLDER = "operator-must-set"


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


# Ids end up inside Slack payloads: a question's input is block `q:<id>` (block_id: at most 255 characters),
# severities and priorities are select option values (at most 150), and all of them appear in action values
# and texts (https://docs.slack.dev/reference/block-kit/blocks, .../composition-objects/option-object).
# One rule for every id keeps them all within those limits by design, with room to spare.
ID_MAX = 64
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _check_id(value: str) -> str:
    if len(value) > ID_MAX:
        raise ValueError(f"id {value[:20]!r}... is {len(value)} characters; at most {ID_MAX}")
    if not _ID_RE.match(value):
        raise ValueError(f"id {value!r}: use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit")
    return value


Id = Annotated[str, AfterValidator(_check_id)]


# -- the file model --------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(_Strict):
    id: Id
    name: str
    definition: str
    examples: list[str] = Field(default_factory=list)
    request_via: list[str] = Field(default_factory=list)


class Priority(_Strict):
    id: Id
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
                raise ValueError(f"unknown subdivision {self.subdivision!r} for {self.country} (valid: {', '.join(subdivs)})")


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
                            raise ValueError(f"overlapping opening hours on {_DAY_NAMES[day]}: {text} and {span} ({key!r})")
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
    """`hours: business` (default): on a calendar that is not 24/7, this level's pings (but the first breach
    ping) wait for open hours; `hours: always` pings at any hour."""

    level: int = Field(ge=1)
    notify: str
    after: DurationField = Duration()
    repeat_every: DurationField | None = None
    hours: Literal["business", "always"] = "business"


class Notifications(_Strict):
    reminders: list[Reminder] = Field(default_factory=list)
    escalation: list[EscalationLevel] = Field(default_factory=list)


class Question(_Strict):
    id: Id
    text: str
    help: str | None = None


class ClassificationRule(_Strict):
    when: dict[str, bool] = Field(default_factory=dict)
    severity: str


class Classification(_Strict):
    questions: list[Question] = Field(default_factory=list)
    rules: list[ClassificationRule] = Field(default_factory=list)


class PlanSpec(_Strict):
    id: Id
    name: str
    description: str | None = None
    calendar: str
    timezone: str | None = None
    limits: PlanLimits = Field(default_factory=PlanLimits)
    targets: dict[str, SeverityTarget] = Field(default_factory=dict)
    notifications: Notifications | None = None
    notes: list[str] = Field(default_factory=list)


class VendorSpec(_Strict):
    id: Id
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
