"""Durations as written in policy files: `30m`, `1h30m`, `36h`, `7d` (business days)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*(d|h|m)")
_WHOLE = re.compile(r"^\s*(?:\d+\s*[dhm]\s*)+$")


@dataclass(frozen=True)
class Duration:
    """A span of calendar time. Days stay days until a calendar says how long one is."""

    days: int = 0
    minutes: int = 0

    @classmethod
    def parse(cls, text: str | int) -> "Duration":
        if isinstance(text, bool):
            raise ValueError(f"not a duration: {text!r}")
        if isinstance(text, int):
            if text < 0:
                raise ValueError(f"duration must not be negative: {text}")
            return cls(minutes=text)
        raw = str(text).strip().lower()
        if raw.startswith("-"):
            raise ValueError(f"duration must not be negative: {text!r}")
        if not _WHOLE.match(raw):
            raise ValueError(f"not a duration: {text!r} (write e.g. 30m, 4h, 1h30m, 7d)")
        days = minutes = 0
        for number, unit in _PART.findall(raw):
            n = int(number)
            if unit == "d":
                days += n
            elif unit == "h":
                minutes += 60 * n
            else:
                minutes += n
        return cls(days=days, minutes=minutes)

    def to_timedelta(self, business_day: timedelta) -> timedelta:
        return self.days * business_day + timedelta(minutes=self.minutes)

    def __str__(self) -> str:
        parts = []
        if self.days:
            parts.append(f"{self.days}d")
        h, m = divmod(self.minutes, 60)
        if h:
            parts.append(f"{h}h")
        if m:
            parts.append(f"{m}m")
        return "".join(parts) or "0m"


def format_timedelta(delta: timedelta) -> str:
    """Short human form: `1d 2h 5m`, `45m`, `-30m`."""
    sign = "-" if delta < timedelta(0) else ""
    total = abs(int(delta.total_seconds() // 60)) if delta >= timedelta(0) else int(-delta.total_seconds() // 60)
    d, rest = divmod(total, 24 * 60)
    h, m = divmod(rest, 60)
    parts = [f"{d}d"] if d else []
    if h:
        parts.append(f"{h}h")
    if m or not parts:
        parts.append(f"{m}m")
    return sign + " ".join(parts)


def contract_text(duration: Duration, business: bool) -> str:
    """A target as a contract states it: `7 business days`, `36 business hours`; on a 24/7 calendar `4h`, `2d`.

    Business days stay days (`7d` is seven business days, not `2d 8h` of 24-hour days).
    """
    if not business:
        return str(duration)

    def unit(n: int, name: str) -> str:
        return f"{n} {name}" + ("" if n == 1 else "s")

    h, m = divmod(duration.minutes, 60)
    parts = [unit(n, name) for n, name in ((duration.days, "day"), (h, "hour"), (m, "minute")) if n]
    if not parts:
        return "0 business minutes"
    return " ".join([parts[0].replace(" ", " business ", 1), *parts[1:]])
