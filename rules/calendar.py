"""Working-time calendars: when an SLA clock runs, and arithmetic on that time.

All instants are timezone-aware datetimes; what a calendar returns is UTC (the
calendar's own zone is only used to find its open intervals). Business time is *elapsed* time
inside open intervals, so an interval that spans a DST change counts the real
minutes that passed, and a 24/7 calendar's "24 hours" is 24 elapsed hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any, Callable, Iterable, Protocol
from zoneinfo import ZoneInfo

from rules.errors import CalendarError

UTC = timezone.utc
ONE_DAY = timedelta(days=1)
ZERO = timedelta(0)
# A calendar whose open time is this far away is broken (e.g. every day a holiday).
MAX_SEARCH_DAYS = 3 * 366


def _require_aware(instant: datetime, what: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {instant.isoformat()}")


class Calendar(Protocol):
    """The time an SLA clock runs on."""

    @property
    def name(self) -> str: ...  # read-only: the calendars are frozen dataclasses

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant when `duration` of open time has passed since `start`."""

    def measure(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two instants (zero if end <= start)."""

    def is_open(self, instant: datetime) -> bool: ...

    def next_open(self, instant: datetime) -> datetime:
        """`instant` itself if open, else the start of the next open interval."""


@dataclass(frozen=True)
class AlwaysOpenCalendar:
    """24/7: business time is elapsed time."""

    name: str = "24/7"

    def add(self, start: datetime, duration: timedelta) -> datetime:
        _require_aware(start, "start")
        if duration < ZERO:
            raise ValueError("duration must not be negative")
        return start.astimezone(UTC) + duration

    def measure(self, start: datetime, end: datetime) -> timedelta:
        _require_aware(start, "start")
        _require_aware(end, "end")
        # In UTC: two instants of one zone subtract as wall clock times (24 h across the autumn change, not 25 h).
        return max(ZERO, end.astimezone(UTC) - start.astimezone(UTC))

    def is_open(self, instant: datetime) -> bool:
        return True

    def next_open(self, instant: datetime) -> datetime:
        _require_aware(instant, "instant")
        return instant.astimezone(UTC)


@dataclass(frozen=True)
class WeeklyHours:
    """Opening hours for one weekday (0=Monday) as local wall-clock times.

    `end` of None means midnight at the end of the day (24:00).
    """

    weekday: int
    start: time
    end: time | None

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0..6, got {self.weekday}")
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"opening hours must end after they start: {self.start}-{self.end}")


@dataclass
class BusinessCalendar:
    """Weekly opening hours in an IANA time zone, minus holidays.

    Open intervals of a local date are built once and cached as UTC instants;
    `add` and `measure` then walk days, consuming whole intervals at a time.
    """

    timezone: str
    hours: tuple[WeeklyHours, ...]
    is_holiday: Callable[[date], bool] = field(default=lambda d: False)
    name: str = "business hours"

    def __post_init__(self) -> None:
        self.tz = ZoneInfo(self.timezone)
        by_day: dict[int, list[tuple[time, time | None]]] = {d: [] for d in range(7)}
        for h in self.hours:
            by_day[h.weekday].append((h.start, h.end))
        for day, spans in by_day.items():
            spans.sort()
            for (s1, e1), (s2, _e2) in zip(spans, spans[1:]):
                if e1 is None or s2 < e1:
                    raise ValueError(f"overlapping opening hours on weekday {day}: {s1}-{e1} and {s2}")
        if not any(by_day.values()):
            raise ValueError("a business calendar needs at least one open interval per week")
        self._by_day = {d: tuple(s) for d, s in by_day.items()}
        self._intervals = lru_cache(maxsize=4096)(self._build_intervals)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its definition, its caches built again (a big report's child process gets the policies)."""
        return (type(self), (self.timezone, self.hours, self.is_holiday, self.name))

    # -- intervals ---------------------------------------------------------
    def _build_intervals(self, day: date) -> tuple[tuple[datetime, datetime, timedelta], ...]:
        if self.is_holiday(day):
            return ()
        out = []
        for start, end in self._by_day[day.weekday()]:
            opens = datetime.combine(day, start, self.tz).astimezone(UTC)
            if end is None:
                closes = datetime.combine(day + ONE_DAY, time(0), self.tz).astimezone(UTC)
            else:
                closes = datetime.combine(day, end, self.tz).astimezone(UTC)
            if closes > opens:
                out.append((opens, closes, closes - opens))
        return tuple(out)

    def intervals(self, day: date) -> tuple[tuple[datetime, datetime, timedelta], ...]:
        """Open intervals of a local date: (opens, closes, length), UTC."""
        return self._intervals(day)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    # -- queries -----------------------------------------------------------
    def is_open(self, instant: datetime) -> bool:
        _require_aware(instant, "instant")
        t = instant.astimezone(UTC)
        return any(o <= t < c for o, c, _ in self.intervals(self._local_date(t)))

    def next_open(self, instant: datetime) -> datetime:
        return self.add(instant, ZERO)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        _require_aware(start, "start")
        if duration < ZERO:
            raise ValueError("duration must not be negative")
        t = start.astimezone(UTC)
        remaining = duration
        day = self._local_date(t)
        intervals = self._intervals
        closed_days = 0  # consecutive days without open time: guards against a calendar that never opens
        while closed_days <= MAX_SEARCH_DAYS:
            day_intervals = intervals(day)
            closed_days = closed_days + 1 if not day_intervals else 0
            for opens, closes, length in day_intervals:
                if closes <= t:
                    continue
                if opens >= t:
                    if remaining <= length:
                        return opens + remaining
                    remaining -= length
                else:
                    available = closes - t
                    if remaining <= available:
                        return t + remaining
                    remaining -= available
            day += ONE_DAY
        raise CalendarError(f"{self.name}: no open time found within {MAX_SEARCH_DAYS} days after {start.isoformat()}")

    def measure(self, start: datetime, end: datetime) -> timedelta:
        _require_aware(start, "start")
        _require_aware(end, "end")
        s = start.astimezone(UTC)
        e = end.astimezone(UTC)
        if e <= s:
            return ZERO
        total = ZERO
        day = self._local_date(s)
        last = self._local_date(e)
        while day <= last:
            for opens, closes, length in self._intervals(day):
                if closes <= s or opens >= e:
                    continue
                if opens >= s and closes <= e:
                    total += length
                else:
                    total += min(closes, e) - max(opens, s)
            day += ONE_DAY
        return total

    def open_time_per_day(self) -> timedelta | None:
        """The length of a regular working day, if every open weekday has the same length."""
        lengths = set()
        for spans in self._by_day.values():
            if not spans:
                continue
            total = ZERO
            for s, e in spans:
                end = timedelta(days=1) if e is None else _since_midnight(e)
                total += end - _since_midnight(s)
            lengths.add(total)
        return lengths.pop() if len(lengths) == 1 else None


def _since_midnight(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


def weekly(days: Iterable[int], start: time, end: time | None) -> tuple[WeeklyHours, ...]:
    """The same hours on several weekdays."""
    return tuple(WeeklyHours(d, start, end) for d in days)
