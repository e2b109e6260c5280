"""The terms a ticket is measured by, frozen when they come into force.

A ticket keeps the targets and the calendar (opening hours, zone, holiday
dates) in force when it was opened, and after a reclassification those of the
new severity from that moment. A later edit of a policy file or of holiday data
applies to new tickets only: the verdict of a June ticket does not change when
a target is edited in November.

`snapshot` turns a `TargetSet` into plain JSON (stored on the ticket);
`restore` turns it back. Holidays are stored as dates, for a window around the
instant the terms came into force (`HOLIDAY_WINDOW`), so a new release of the
holiday data does not move an old deadline either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Sequence

from rules.calendar import AlwaysOpenCalendar, BusinessCalendar, Calendar, WeeklyHours
from rules.policy import Plan, TargetSet

# Holiday dates kept with a snapshot: from a week before the terms came into force to this far after.
HOLIDAY_WINDOW = timedelta(days=2 * 366)
SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class Terms:
    """Targets in force from `since` (the opening, or a reclassification) until the next `Terms`."""

    since: datetime
    targets: TargetSet


def _seconds(v: timedelta | None) -> int | None:
    return None if v is None else int(v.total_seconds())


def _span(v: int | None) -> timedelta | None:
    return None if v is None else timedelta(seconds=v)


def calendar_snapshot(calendar: Calendar, since: datetime) -> dict[str, Any]:
    """A calendar as data: 24/7, or weekly hours in a zone with the holiday dates around `since`."""
    if isinstance(calendar, AlwaysOpenCalendar):
        return {"name": calendar.name, "always_open": True}
    if not isinstance(calendar, BusinessCalendar):
        raise TypeError(f"cannot freeze calendar {calendar!r}")
    first = (since - timedelta(days=7)).astimezone(calendar.tz).date()
    last = (since + HOLIDAY_WINDOW).astimezone(calendar.tz).date()
    holidays = []
    day = first
    while day <= last:
        if calendar.is_holiday(day):
            holidays.append(day.isoformat())
        day += timedelta(days=1)
    return {
        "name": calendar.name,
        "always_open": False,
        "timezone": calendar.timezone,
        "hours": [[h.weekday, h.start.isoformat("minutes"), h.end.isoformat("minutes") if h.end else None] for h in calendar.hours],
        "holidays": holidays,
        "holidays_from": first.isoformat(),
        "holidays_to": last.isoformat(),
    }


def snapshot(terms: Terms) -> dict[str, Any]:
    """JSON-ready form of terms in force from `terms.since`."""
    t = terms.targets
    return {
        "v": SNAPSHOT_VERSION,
        "since": terms.since.isoformat(),
        "severity": t.severity,
        "applied_severity": t.applied_severity,
        "first_response_s": _seconds(t.first_response),
        "update_interval_s": _seconds(t.update_interval),
        "resolution_s": _seconds(t.resolution),
        "resolution_best_effort": t.resolution_best_effort,
        "placeholder": t.placeholder,
        "calendar_id": t.calendar_id,
        "calendar": calendar_snapshot(t.calendar, terms.since),
    }


@lru_cache(maxsize=1024)
def _calendar_from_json(text: str) -> Calendar:
    """Built once per distinct snapshot: a BusinessCalendar caches its intervals per instance."""
    d = json.loads(text)
    if d["always_open"]:
        return AlwaysOpenCalendar(name=d["name"])
    hours = tuple(WeeklyHours(day, time.fromisoformat(start), time.fromisoformat(end) if end else None) for day, start, end in d["hours"])
    dates = frozenset(date.fromisoformat(x) for x in d["holidays"])
    return BusinessCalendar(timezone=d["timezone"], hours=hours, is_holiday=dates.__contains__, name=d["name"])


def restore(d: dict[str, Any]) -> Terms:
    """`snapshot` read back."""
    cal = _calendar_from_json(json.dumps(d["calendar"], sort_keys=True))
    targets = TargetSet(
        severity=d["severity"],
        applied_severity=d["applied_severity"],
        first_response=_span(d["first_response_s"]),
        update_interval=_span(d["update_interval_s"]),
        resolution=_span(d["resolution_s"]),
        resolution_best_effort=d["resolution_best_effort"],
        placeholder=d["placeholder"],
        calendar=cal,
        calendar_id=d["calendar_id"],
    )
    return Terms(datetime.fromisoformat(d["since"]), targets)


def restore_all(data: Sequence[dict[str, Any]] | None) -> list[Terms] | None:
    """A ticket's stored terms, oldest first; None when it has none (stored before terms were kept)."""
    if not data:
        return None
    return sorted((restore(d) for d in data), key=lambda t: t.since)


def in_force(terms: Sequence[Terms], at: datetime) -> TargetSet:
    """The targets in force at `at`: the latest terms that started by then (the first before any)."""
    current = terms[0].targets
    for t in terms:
        if t.since <= at:
            current = t.targets
        else:
            break
    return current


def terms_from_plan(plan: Plan, severity: str, opened_at: datetime, reclassifications: Sequence[tuple[datetime, str]] = ()) -> list[Terms]:
    """The terms a ticket gets from the plan as it is now: at opening, then from each reclassification."""
    out = [Terms(opened_at, plan.targets_for(severity))]
    for at, new in sorted(reclassifications, key=lambda r: r[0]):
        out.append(Terms(at, plan.targets_for(new)))
    return out
