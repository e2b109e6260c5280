"""rules/periods.py: report periods as people type them, and the same periods as quota counting periods."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from rules.errors import PeriodError
from rules.periods import Period, parse_period, quota_period
from tests.report_data import NOW, PLANS, utc

# -- periods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "label", "first", "end"),
    [
        (None, NOW, "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
        ("this-month", NOW, "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
        ("last-month", utc(1, 15, 9).replace(year=2026), "2025-12", date(2025, 12, 1), date(2026, 1, 1)),
        ("this-quarter", NOW, "2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
        ("last-quarter", utc(2, 1, 0), "2025-Q4", date(2025, 10, 1), date(2026, 1, 1)),
        ("2026-3", NOW, "2026-03", date(2026, 3, 1), date(2026, 4, 1)),
        ("2026-q2", NOW, "2026-Q2", date(2026, 4, 1), date(2026, 7, 1)),
        (" 2026-Q4 ", NOW, "2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
        # relative periods are read in UTC: 23:30 UTC on Nov 30 is already December in Berlin, still November here
        ("this-month", utc(11, 30, 23, 30), "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
    ],
)
def test_parse_period(text, now, label, first, end) -> None:
    p = parse_period(text, now)
    assert (p.label, p.first_day, p.end_day) == (label, first, end)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "2026-Q0", "yesterday", "26-11", "2026/11", "november"])
def test_bad_period_lists_valid_forms(text: str) -> None:
    with pytest.raises(PeriodError) as e:
        parse_period(text, NOW)
    msg = str(e.value)
    assert repr(text) in msg
    for form in ("this-month", "last-month", "this-quarter", "last-quarter", "YYYY-MM", "YYYY-Qn"):
        assert form in msg


def test_period_bounds_in_a_time_zone() -> None:
    from zoneinfo import ZoneInfo

    start, end = Period(2026, 10, 3).bounds(ZoneInfo("Europe/Berlin"))
    assert start.astimezone(timezone.utc) == utc(9, 30, 22)  # CEST, UTC+2
    assert end.astimezone(timezone.utc) == datetime(2026, 12, 31, 23, tzinfo=timezone.utc)  # CET, UTC+1


def test_quota_periods_are_report_periods_placed_in_the_plan_zone() -> None:
    """One definition: a plan's counting period is the same `Period` a report reads, in the plan's zone."""
    silver = PLANS["silver"]  # 2 cases per quarter, Europe/Berlin
    late_december = datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)  # already 2027 in Berlin
    qp = quota_period(silver, late_december)
    assert qp is not None and qp.period == parse_period("2027-Q1", NOW) and qp.label == "2027-Q1"
    assert (qp.start, qp.end) == parse_period("2027-Q1", NOW).bounds(silver.timezone)
    assert (Period.containing(date(2026, 7, 4), 12).label, Period.containing(date(2026, 7, 4), 12).end_day) == ("2026", date(2027, 1, 1))
