"""Benchmark: rules.calendar.BusinessCalendar vs the `businesstimedelta` package.

Plan: Mon-Fri 09:00-18:00 Europe/Warsaw minus Polish public holidays
(`holidays`, years 2025-2028). Seeded random start instants over 2026-2027
(plus deliberate starts on holidays, around DST changes and exactly at opening
or closing time) are combined with the seed plan targets (30m ... 36h and
3/7/14 business days of 9 h).

Two scenarios, each timed on the SAME inputs in the same run (best of 3 with
time.perf_counter; calendars/rules are built once, outside the timed loop):

* deadline: ``BusinessCalendar.add(start, duration)`` vs
  ``naive_local_start + BusinessTimeDelta(rules, timedelta=duration)``
* elapsed:  ``BusinessCalendar.measure(start, end)`` vs ``rules.difference(a, b)``

businesstimedelta reads naive datetimes as UTC, so its rules keep the default
tz (UTC) and are fed naive Europe/Warsaw wall-clock times; its results are
turned back into aware Warsaw instants outside the timed loop. This is exact
for this plan because no DST change falls inside 09:00-18:00.

Every result is compared (deadlines as UTC instants, elapsed time as
timedeltas). A deadline difference where both results denote the same business
instant (no open time between them, same next opening) is a "convention
difference"; any other difference is a mismatch. Exit status is 1 if there is
any mismatch.

Run from the repo root:  python bench/bench_calendar.py [--n N] [--seed S]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import businesstimedelta as btd  # noqa: E402
import holidays  # noqa: E402

from rules.calendar import BusinessCalendar, weekly  # noqa: E402

T = TypeVar("T")

TZ_NAME = "Europe/Warsaw"
TZ = ZoneInfo(TZ_NAME)
UTC = timezone.utc
OPENS, CLOSES = time(9), time(18)
WORKDAYS = (0, 1, 2, 3, 4)
HOLIDAY_YEARS = range(2025, 2029)
START_FROM = datetime(2026, 1, 1, tzinfo=TZ)
START_UNTIL = datetime(2028, 1, 1, tzinfo=TZ)
# Seed plan targets; "d" targets are business days, converted with the calendar's day length.
TARGETS = ("30m", "1h", "4h", "8h", "12h", "16h", "24h", "32h", "36h", "3d", "7d", "14d")
REPEATS = 3
GOAL_RATIO = 20.0
SHOW_EXAMPLES = 5


# -- setup -------------------------------------------------------------------
@dataclass
class Setup:
    holidays: holidays.HolidayBase
    ours: BusinessCalendar
    theirs: btd.Rules
    business_day: timedelta


def build_ours(pl: holidays.HolidayBase) -> BusinessCalendar:
    return BusinessCalendar(
        timezone=TZ_NAME,
        hours=weekly(WORKDAYS, OPENS, CLOSES),
        is_holiday=lambda d: d in pl,
    )


def build_setup() -> Setup:
    pl = holidays.country_holidays("PL", years=HOLIDAY_YEARS)
    ours = build_ours(pl)
    theirs = btd.Rules([btd.WorkDayRule(OPENS, CLOSES, list(WORKDAYS)), btd.HolidayRule(pl)])
    day = ours.open_time_per_day()
    assert day == timedelta(hours=9), day
    return Setup(pl, ours, theirs, day)


def parse_target(text: str, business_day: timedelta) -> timedelta:
    number, unit = int(text[:-1]), text[-1]
    return {"m": timedelta(minutes=number), "h": timedelta(hours=number), "d": number * business_day}[unit]


def pick_target(rng: random.Random, business_day: timedelta) -> tuple[str, timedelta]:
    label = rng.choice(TARGETS)
    return label, parse_target(label, business_day)


# -- inputs ------------------------------------------------------------------
def dst_changes(years: Sequence[int]) -> list[datetime]:
    """Local midnights of the days on which TZ changes its UTC offset."""
    out = []
    for year in years:
        day = date(year, 1, 1)
        while day.year == year:
            a = datetime.combine(day, time(0), TZ)
            b = datetime.combine(day + timedelta(days=1), time(0), TZ)
            if a.utcoffset() != b.utcoffset():
                out.append(a)
            day += timedelta(days=1)
    return out


def random_instant(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """Whole-second instant in [lo, hi), as an aware Warsaw datetime."""
    a, b = int(lo.timestamp()), int(hi.timestamp())
    return datetime.fromtimestamp(rng.randrange(a, b), TZ)


def make_starts(n: int, rng: random.Random, pl: holidays.HolidayBase) -> tuple[list[datetime], dict[str, int]]:
    """n start instants: ~70% uniform, ~10% on holidays, ~10% within 3 days of a DST change,
    ~10% exactly at 09:00 or 18:00 of a random day."""
    holiday_days = sorted(d for d in pl if START_FROM.date() <= d < START_UNTIL.date())
    changes = dst_changes([2026, 2027])
    starts: list[datetime] = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.10:
            day = rng.choice(holiday_days)
            lo = datetime.combine(day, time(0), TZ)
            starts.append(random_instant(rng, lo, lo + timedelta(days=1)))
        elif kind < 0.20:
            change = rng.choice(changes)
            starts.append(random_instant(rng, change - timedelta(days=3), change + timedelta(days=3)))
        elif kind < 0.30:
            day = random_instant(rng, START_FROM, START_UNTIL).date()
            starts.append(datetime.combine(day, rng.choice((OPENS, CLOSES)), TZ))
        else:
            starts.append(random_instant(rng, START_FROM, START_UNTIL))
    return starts, describe_starts(starts, pl, changes)


def describe_starts(starts: Sequence[datetime], pl: holidays.HolidayBase, changes: Sequence[datetime]) -> dict[str, int]:
    counts = {"weekend": 0, "holiday": 0, "outside hours": 0, "at 09:00/18:00": 0, "DST week": 0}
    for s in starts:
        local = s.astimezone(TZ)
        if local.weekday() not in WORKDAYS:
            counts["weekend"] += 1
        if local.date() in pl:
            counts["holiday"] += 1
        if not (local.weekday() in WORKDAYS and local.date() not in pl and OPENS <= local.time() < CLOSES):
            counts["outside hours"] += 1
        if local.time() in (OPENS, CLOSES):
            counts["at 09:00/18:00"] += 1
        if any(abs(s - c) <= timedelta(days=3) for c in changes):
            counts["DST week"] += 1
    return counts


def to_naive_local(instant: datetime) -> datetime:
    return instant.astimezone(TZ).replace(tzinfo=None)


def from_btd(result: datetime) -> datetime:
    """businesstimedelta returns the naive local wall clock tagged as UTC; re-tag it as Warsaw."""
    return result.replace(tzinfo=TZ)


# -- timing ------------------------------------------------------------------
def best_of(run: Callable[[], T], repeats: int = REPEATS) -> tuple[float, T]:
    """Best wall time of `repeats` calls, and the result of the last call."""
    best = float("inf")
    result: Any = None
    for _ in range(repeats):
        t0 = clock.perf_counter()
        result = run()
        best = min(best, clock.perf_counter() - t0)
    return best, result


@dataclass
class Report:
    title: str
    inputs: int
    ours_s: float
    theirs_s: float
    cold_s: float
    mismatches: list[str] = field(default_factory=list)
    conventions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def show(self) -> None:
        ours_ops, theirs_ops, cold_ops = (self.inputs / s for s in (self.ours_s, self.theirs_s, self.cold_s))
        ratio = ours_ops / theirs_ops
        print(f"\n== {self.title}")
        print(f"inputs                          {self.inputs:>12,}")
        print(f"ours               ops/s        {ours_ops:>12,.0f}   (best of {REPEATS}, warm interval cache)")
        print(f"businesstimedelta  ops/s        {theirs_ops:>12,.0f}   (best of {REPEATS})")
        print(
            f"ratio ours/theirs               {ratio:>12.1f}x  (goal >= {GOAL_RATIO:.0f}x: {'met' if ratio >= GOAL_RATIO else 'NOT met'})"
        )
        print(f"ours, cold cache   ops/s        {cold_ops:>12,.0f}   (one pass, fresh calendar; ratio {cold_ops / theirs_ops:.1f}x)")
        print(f"convention differences          {len(self.conventions):>12,}")
        print(f"mismatches                      {len(self.mismatches):>12,}")
        for note in self.notes:
            print(f"  note: {note}")
        if self.conventions:
            print("  convention differences: both results denote the same business instant (no open time")
            print("  between them and the same next opening), e.g. 18:00 vs next opening 09:00:")
            for line in self.conventions[:SHOW_EXAMPLES]:
                print(f"    {line}")
        for line in self.mismatches[:SHOW_EXAMPLES]:
            print(f"  MISMATCH {line}")


# -- scenarios ---------------------------------------------------------------
def bench_add(setup: Setup, starts: Sequence[datetime], rng: random.Random) -> Report:
    cal, rule = setup.ours, setup.theirs
    targets = [pick_target(rng, setup.business_day) for _ in starts]
    ours_in = [(s, d) for s, (_, d) in zip(starts, targets)]
    theirs_in = [(to_naive_local(s), btd.BusinessTimeDelta(rule, timedelta=d)) for s, d in ours_in]

    def run_ours(c: BusinessCalendar = cal) -> list[datetime]:
        add = c.add
        return [add(s, d) for s, d in ours_in]

    def run_theirs() -> list[datetime]:
        return [s + d for s, d in theirs_in]

    cold_s, _ = best_of(lambda: run_ours(build_ours(setup.holidays)), repeats=1)
    ours_s, ours_out = best_of(run_ours)
    theirs_s, theirs_raw = best_of(run_theirs)

    report = Report("deadline: add(start, target)", len(starts), ours_s, theirs_s, cold_s)
    for start, (label, _), ours, raw in zip(starts, targets, ours_out, theirs_raw):
        theirs = from_btd(raw)
        if ours.astimezone(UTC) == theirs.astimezone(UTC):
            continue
        line = f"{start.isoformat()} + {label}: ours {ours.astimezone(TZ).isoformat()}  theirs {theirs.isoformat()}"
        a, b = sorted((ours, theirs))
        same_instant = cal.measure(a, b) == timedelta(0) and cal.next_open(ours) == cal.next_open(theirs)
        (report.conventions if same_instant else report.mismatches).append(line)
    return report


def bench_measure(setup: Setup, starts: Sequence[datetime], rng: random.Random) -> Report:
    cal, rule = setup.ours, setup.theirs
    pairs: list[tuple[datetime, datetime]] = []
    targets: list[tuple[str, timedelta] | None] = []
    for s in starts:
        if rng.random() < 0.5:  # end = a deadline from the plan (often exactly at closing time)
            target = pick_target(rng, setup.business_day)
            pairs.append((s, cal.add(s, target[1])))
            targets.append(target)
        else:  # arbitrary end up to 21 days later
            pairs.append((s, s + timedelta(seconds=rng.randrange(0, 21 * 86400))))
            targets.append(None)
    theirs_in = [(to_naive_local(a), to_naive_local(b)) for a, b in pairs]

    def run_ours(c: BusinessCalendar = cal) -> list[timedelta]:
        measure = c.measure
        return [measure(a, b) for a, b in pairs]

    def run_theirs() -> list[btd.BusinessTimeDelta]:
        difference = rule.difference
        return [difference(a, b) for a, b in theirs_in]

    cold_s, _ = best_of(lambda: run_ours(build_ours(setup.holidays)), repeats=1)
    ours_s, ours_out = best_of(run_ours)
    theirs_s, theirs_raw = best_of(run_theirs)

    report = Report("elapsed: measure(start, end) vs rules.difference(a, b)", len(pairs), ours_s, theirs_s, cold_s)
    round_trip = 0
    for (a, b), target, ours, raw in zip(pairs, targets, ours_out, theirs_raw):
        theirs = raw.timedelta
        if ours != theirs:
            report.mismatches.append(f"{a.isoformat()} -> {b.astimezone(TZ).isoformat()}: ours {ours}  theirs {theirs}")
        if target is not None and ours != target[1]:
            round_trip += 1
            report.mismatches.append(f"round trip: measure(s, add(s, {target[0]})) = {ours} for s = {a.isoformat()}")
    checked = sum(t is not None for t in targets)
    report.notes.append(f"{checked:,} pairs end at add(start, target); round-trip failures: {round_trip}")
    report.notes.append("inputs have whole seconds: rule.difference() drops sub-second parts")
    return report


# -- main --------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=4000, help="number of inputs per scenario (default 4000)")
    parser.add_argument("--seed", type=int, default=20260101, help="random seed (default 20260101)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    setup = build_setup()
    rng = random.Random(args.seed)
    starts, counts = make_starts(args.n, rng, setup.holidays)

    print(
        f"python {platform.python_version()}, businesstimedelta {version('businesstimedelta')}, "
        f"holidays {version('holidays')}, {os.cpu_count()} CPUs"
    )
    print(
        f"plan: Mon-Fri {OPENS:%H:%M}-{CLOSES:%H:%M} {TZ_NAME}, PL holidays {HOLIDAY_YEARS.start}-"
        f"{HOLIDAY_YEARS.stop - 1}, business day = {setup.business_day}"
    )
    print(f"inputs: n={args.n}, seed={args.seed}, starts {START_FROM:%Y-%m-%d}..{START_UNTIL:%Y-%m-%d} (whole seconds)")
    print("  starts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"  targets: {', '.join(TARGETS)}")

    reports = [bench_add(setup, starts, rng), bench_measure(setup, starts, rng)]
    for report in reports:
        report.show()
    failed = sum(len(r.mismatches) for r in reports)
    print(f"\nresult: {'FAIL' if failed else 'OK'} ({failed} mismatches)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
