"""On call per escalation role: a user, a user group, or a rotation whose hand-offs are at a fixed
local time in the plan's time zone; and who that names at an instant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo

from rules.errors import InvalidInput
from rules.inputs import check_year

ROTATION_DAYS_MAX = 365  # hand-offs at least once a year
ROTATION_DAYS_HELP = f"hand-offs every 1 to {ROTATION_DAYS_MAX} days, e.g. every=7"


def on_call_in_rotation(users: Sequence[str], first_handoff: datetime, every_days: int, tz: ZoneInfo, now: datetime) -> str:
    """The user on call at `now`.

    Hand-offs happen every `every_days` days at the local wall-clock time of
    `first_handoff` in `tz` (so a 09:00 hand-off stays at 09:00 across DST).
    Before the first hand-off the first user is on call.
    """
    if not users:
        raise ValueError("a rotation needs at least one user")
    if every_days < 1:
        raise ValueError("hand-offs must be at least one day apart")
    start = first_handoff.astimezone(tz)
    local_now = now.astimezone(tz)
    if local_now < start:
        return users[0]

    def handoff(k: int) -> datetime:
        return datetime.combine(start.date() + timedelta(days=k * every_days), start.timetz().replace(tzinfo=None), tz)

    k = (local_now.date() - start.date()).days // every_days
    if handoff(k) > local_now:
        k -= 1
    return users[k % len(users)]


def parse_rotation_start(text: str, tz: ZoneInfo) -> datetime:
    """The first hand-off, one rule for the CLI and Slack: an ISO 8601 local time in the plan's zone
    (`2026-12-07T09:00`), or an instant with an offset, taken as that instant; returned in the plan's zone.

    Raises ValueError for anything else, InvalidInput for a year out of range (rules.inputs)."""
    value = check_year(datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00")), "the first hand-off")
    return value.replace(tzinfo=tz) if value.tzinfo is None else value.astimezone(tz)


def check_rotation_days(days: int) -> int:
    if not 1 <= days <= ROTATION_DAYS_MAX:
        raise InvalidInput(f"{ROTATION_DAYS_HELP} (not {days})")
    return days


@dataclass(frozen=True)
class OnCallSetting:
    role: str
    user_id: str | None = None
    group_id: str | None = None
    rotation: tuple[str, ...] = ()
    rotation_start: datetime | None = None
    rotation_days: int | None = None

    def mention(self, tz: ZoneInfo, now: datetime) -> str:
        if self.user_id:
            return f"<@{self.user_id}>"
        if self.group_id:
            return f"<!subteam^{self.group_id}>"
        assert self.rotation_start is not None and self.rotation_days
        return f"<@{on_call_in_rotation(self.rotation, self.rotation_start, self.rotation_days, tz, now)}>"

    def describe(self, tz: ZoneInfo | None = None) -> str:
        """Who, and for a rotation its first hand-off in the plan's zone `tz` (as it was set, not as stored in UTC)."""
        if self.user_id:
            return f"<@{self.user_id}>"
        if self.group_id:
            return f"<!subteam^{self.group_id}>"
        people = ", ".join(f"<@{u}>" for u in self.rotation)
        start = self.rotation_start.astimezone(tz) if tz is not None and self.rotation_start else self.rotation_start
        zone = f"plan time, {tz.key}" if tz is not None else "UTC"
        return f"rotation {people}, hand-off every {self.rotation_days} d from {start:%Y-%m-%d %H:%M} ({zone})"
