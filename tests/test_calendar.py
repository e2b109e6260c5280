"""Business-time arithmetic against a slow, obvious minute-by-minute oracle."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.calendar import AlwaysOpenCalendar, BusinessCalendar, WeeklyHours, weekly
from rules.errors import CalendarError

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
ZONES = ["Europe/Warsaw", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def oracle_is_open(cal: BusinessCalendar, instant: datetime) -> bool:
    """Read the rules directly off the calendar's days: no interval arithmetic across days.

    An opening or closing time names its first occurrence on that local date
    (PEP 495 fold=0, as zoneinfo resolves a wall time): a time in the repeated
    autumn hour is its first occurrence, so a day that opens at 01:30 on the
    fall-back date stays open through the repeated hour rather than closing
    again for half an hour; a time in the skipped spring hour is read with the
    offset before the change. Hours never cross midnight (an open end is the
    next midnight), so only the instant's own local date can hold it.
    """
    day = instant.astimezone(cal.tz).date()
    if cal.is_holiday(day):
        return False
    for h in cal.hours:
        if h.weekday != day.weekday():
            continue
        opens = datetime.combine(day, h.start, cal.tz)
        closes = datetime.combine(day + timedelta(days=1), time(0), cal.tz) if h.end is None else datetime.combine(day, h.end, cal.tz)
        if opens.astimezone(UTC) <= instant.astimezone(UTC) < closes.astimezone(UTC):
            return True
    return False


def oracle_add(cal: BusinessCalendar, start: datetime, minutes: int) -> datetime:
    t = start.astimezone(UTC)
    while minutes > 0:
        if oracle_is_open(cal, t):
            minutes -= 1
        t += MINUTE
    while not oracle_is_open(cal, t):  # a zero remainder lands on the next open minute...
        if minutes == 0 and t != start.astimezone(UTC) and oracle_is_open(cal, t - MINUTE):
            return t  # ... unless the target ended exactly at closing time
        t += MINUTE
    return t


def oracle_measure(cal: BusinessCalendar, start: datetime, end: datetime) -> int:
    t, n = start.astimezone(UTC), 0
    while t < end:
        n += oracle_is_open(cal, t)
        t += MINUTE
    return n


times = st.integers(min_value=0, max_value=23).map(lambda h: time(h))


@st.composite
def calendars(draw) -> BusinessCalendar:
    tz = draw(st.sampled_from(ZONES))
    hours: list[WeeklyHours] = []
    days = draw(st.sets(st.integers(0, 6), min_size=1, max_size=7))
    for day in days:
        start_h = draw(st.integers(0, 22))
        end_h = draw(st.integers(start_h + 1, 24))
        hours.append(WeeklyHours(day, time(start_h, draw(st.sampled_from([0, 30]))), None if end_h == 24 else time(end_h)))
        if end_h <= 20 and draw(st.booleans()):  # a second span after a break
            hours.append(WeeklyHours(day, time(end_h + 1), time(min(end_h + 3, 23))))
    holidays = frozenset(draw(st.sets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=20)))
    return BusinessCalendar(timezone=tz, hours=tuple(hours), is_holiday=holidays.__contains__)


starts = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 20), timezones=st.just(UTC)).map(
    lambda d: d.replace(second=0, microsecond=0)
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), start=starts, minutes=st.integers(0, 3 * 24 * 60))
def test_add_matches_minute_by_minute_oracle(cal: BusinessCalendar, start: datetime, minutes: int) -> None:
    assert cal.add(start, timedelta(minutes=minutes)) == oracle_add(cal, start, minutes)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), start=starts, span=st.integers(0, 4 * 24 * 60))
def test_measure_matches_oracle(cal: BusinessCalendar, start: datetime, span: int) -> None:
    end = start + timedelta(minutes=span)
    assert cal.measure(start, end) == timedelta(minutes=oracle_measure(cal, start, end))


@settings(max_examples=200, deadline=None)
@given(cal=calendars(), start=starts, minutes=st.integers(0, 20 * 24 * 60))
def test_add_then_measure_round_trips(cal: BusinessCalendar, start: datetime, minutes: int) -> None:
    due = cal.add(start, timedelta(minutes=minutes))
    assert cal.measure(start, due) == timedelta(minutes=minutes)
    assert due >= start
    if minutes:
        # The deadline is the earliest instant with that much open time behind it.
        assert cal.measure(start, due - MINUTE) < timedelta(minutes=minutes)


@given(start=starts, minutes=st.integers(0, 10**6))
def test_always_open_is_elapsed_time(start: datetime, minutes: int) -> None:
    cal = AlwaysOpenCalendar()
    assert cal.add(start, timedelta(minutes=minutes)) - start == timedelta(minutes=minutes)
    assert cal.measure(start, start + timedelta(minutes=minutes)) == timedelta(minutes=minutes)


WARSAW = ZoneInfo("Europe/Warsaw")
OFFICE = BusinessCalendar("Europe/Warsaw", weekly(range(5), time(9), time(18)))


def test_start_outside_hours_counts_from_next_business_minute() -> None:
    sunday = datetime(2026, 11, 29, 20, 0, tzinfo=WARSAW)
    assert OFFICE.add(sunday, timedelta(minutes=1)) == datetime(2026, 11, 30, 9, 1, tzinfo=WARSAW)
    assert OFFICE.next_open(sunday) == datetime(2026, 11, 30, 9, 0, tzinfo=WARSAW)


def test_target_ending_at_closing_time_stays_at_closing_time() -> None:
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=WARSAW)
    assert OFFICE.add(monday, timedelta(hours=9)) == datetime(2026, 11, 30, 18, 0, tzinfo=WARSAW)
    assert OFFICE.add(monday, timedelta(hours=9, minutes=1)) == datetime(2026, 12, 1, 9, 1, tzinfo=WARSAW)


def test_spring_forward_inside_open_hours_counts_elapsed_time() -> None:
    # 24/7 on weekdays in New York; DST starts Sunday 2027-03-14 at 02:00 -> 03:00.
    ny = ZoneInfo("America/New_York")
    cal = BusinessCalendar("America/New_York", weekly(range(7), time(0), None))
    start = datetime(2027, 3, 14, 0, 0, tzinfo=ny)
    assert cal.add(start, timedelta(hours=3)) == datetime(2027, 3, 14, 4, 0, tzinfo=ny)
    assert cal.measure(start, datetime(2027, 3, 15, 0, 0, tzinfo=ny)) == timedelta(hours=23)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.add(datetime(2026, 11, 30, 9), timedelta(hours=1))


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        OFFICE.add(datetime(2026, 11, 30, 9, tzinfo=WARSAW), timedelta(minutes=-5))


def test_calendar_closed_for_years_fails_loudly() -> None:
    cal = BusinessCalendar("UTC", weekly([0], time(9), time(10)), is_holiday=lambda d: True)
    with pytest.raises(CalendarError, match="no open time"):
        cal.add(datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1))


def test_overlapping_hours_are_refused() -> None:
    with pytest.raises(ValueError, match="overlapping"):
        BusinessCalendar("UTC", (WeeklyHours(0, time(9), time(12)), WeeklyHours(0, time(11), time(13))))


def test_very_long_targets_are_computed_not_refused() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=WARSAW)
    due = OFFICE.add(start, 1100 * timedelta(hours=9))
    assert OFFICE.measure(start, due) == 1100 * timedelta(hours=9)


def test_open_time_per_day_counts_seconds() -> None:
    cal = BusinessCalendar("UTC", weekly(range(5), time(9, 0, 30), time(18)))
    assert cal.open_time_per_day() == cal.intervals(date(2026, 1, 5))[0][2] == timedelta(hours=8, minutes=59, seconds=30)


def test_opening_inside_the_repeated_autumn_hour_stays_open_through_it() -> None:
    """New York, Sunday 01:30-21:00, on the fall-back date: open from the first 01:30 (05:30Z) without a break.

    Found by the property test: an oracle that re-read the wall clock closed
    the day again for the repeated half hour (06:00Z-06:30Z, 01:00-01:30 EST).
    """
    cal = BusinessCalendar(timezone="America/New_York", hours=(WeeklyHours(6, time(1, 30), time(21)),), is_holiday=frozenset().__contains__)
    start = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    assert cal.add(start, timedelta(minutes=60)) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert cal.add(start, timedelta(minutes=60)) == oracle_add(cal, start, 60)
    assert cal.measure(start, datetime(2026, 11, 2, 5, 0, tzinfo=UTC)) == timedelta(hours=20, minutes=30)
