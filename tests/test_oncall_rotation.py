from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rules.oncall import on_call_in_rotation

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 10, 19, 9, 0, tzinfo=BERLIN)  # a Monday, a week before summer time ends


@pytest.mark.parametrize(
    ("now", "who"),
    [
        (datetime(2026, 10, 1, 12, 0, tzinfo=BERLIN), "A"),  # before the rotation starts
        (datetime(2026, 10, 19, 9, 0, tzinfo=BERLIN), "A"),
        (datetime(2026, 10, 26, 8, 59, tzinfo=BERLIN), "A"),  # the day after DST ends, one minute before hand-off
        (datetime(2026, 10, 26, 9, 0, tzinfo=BERLIN), "B"),  # hand-off at 09:00 local, not 08:00
        (datetime(2026, 11, 2, 9, 0, tzinfo=BERLIN), "C"),
        (datetime(2026, 11, 9, 9, 0, tzinfo=BERLIN), "A"),
    ],
)
def test_weekly_rotation_hands_off_at_local_time(now: datetime, who: str) -> None:
    assert on_call_in_rotation(["A", "B", "C"], START, 7, BERLIN, now) == who


@given(st.integers(min_value=0, max_value=2000 * 24 * 60))
def test_rotation_matches_counting_handoffs(minutes: int) -> None:
    now = START + timedelta(minutes=minutes)
    local = now.astimezone(BERLIN)
    handoffs = sum(1 for k in range(1, 400) if datetime.combine(START.date() + timedelta(days=7 * k), START.time(), BERLIN) <= local)
    assert on_call_in_rotation(["A", "B", "C"], START, 7, BERLIN, now) == "ABC"[handoffs % 3]
