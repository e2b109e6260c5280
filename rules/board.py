"""The SLA status board: open tickets by urgency, from their SLA status at `now`.

Pure: callers load tickets, evaluate their clocks with `rules.sla.evaluate`, and
pass them in as `TicketFacts`. The definitions managers see in `/sla status`:

- **At risk**: a running clock with less than 25% of its target left, or less
  than 30 minutes, counted on the clock's own calendar (business time for
  business-hours plans).
- **Late by**: elapsed time from the deadline to the response (or to `now` for
  a clock still running).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Iterable

from rules.calendar import AlwaysOpenCalendar
from rules.sla import ClockName, ClockState, SlaStatus

UTC = timezone.utc
AT_RISK_SHARE = 0.25
AT_RISK_FLOOR = timedelta(minutes=30)

# -- tickets ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class TicketFacts:
    """What the report needs of one ticket: its identity and its SLA status (evaluated at `now`)."""

    key: str
    plan_id: str
    status: SlaStatus
    customer: str | None = None
    summary: str = ""
    state: str = "open"  # open, paused, resolved
    reporter_id: str | None = None
    assignee_id: str | None = None
    within_plan: bool = True
    channel_id: str | None = None

    @property
    def opened_at(self) -> datetime:
        """In the plan's time zone: reports count a ticket in the period it was opened in, locally."""
        return self.status.opened_at.astimezone(self.status.zone)

    @property
    def severity(self) -> str:
        """The current severity (after any reclassification)."""
        return self.status.severity

    @property
    def is_open(self) -> bool:
        return self.state != "resolved"


# -- the status board ------------------------------------------------------------------


class Urgency(str, Enum):
    BREACHED = "breached"
    AT_RISK = "at_risk"
    ON_TRACK = "on_track"
    NO_DEADLINE = "no_deadline"  # paused, not started, or best effort

    @property
    def rank(self) -> int:
        return list(Urgency).index(self)


@dataclass(frozen=True)
class ClockWatch:
    """One running clock as the board shows it."""

    clock: ClockName
    urgency: Urgency
    due: datetime
    left: timedelta  # open time left on the clock's calendar; negative: late by (elapsed)
    target: timedelta | None
    business_hours: bool  # `left` counts only the plan's open hours

    @property
    def late_by(self) -> timedelta | None:
        return -self.left if self.left < timedelta(0) else None


def classify(left: timedelta, target: timedelta | None) -> Urgency:
    """Breached past the deadline; at risk under 25% of the target or under 30 minutes left."""
    if left < timedelta(0):
        return Urgency.BREACHED
    if left < AT_RISK_FLOOR or (target is not None and target > timedelta(0) and left < target * AT_RISK_SHARE):
        return Urgency.AT_RISK
    return Urgency.ON_TRACK


def watch(clock: ClockState, now: datetime) -> ClockWatch | None:
    """The board's view of a clock that is running (before or past its deadline); None otherwise."""
    if not clock.active or clock.due is None:
        return None
    left = clock.remaining(now)
    assert left is not None
    return ClockWatch(
        clock=clock.name,
        urgency=classify(left, clock.target),
        due=clock.due,
        left=left,
        target=clock.target,
        business_hours=not isinstance(clock.calendar, AlwaysOpenCalendar),
    )


@dataclass(frozen=True)
class BoardRow:
    ticket: TicketFacts
    urgency: Urgency
    headline: ClockWatch | None  # the clock that puts the ticket where it is
    others: tuple[ClockWatch, ...] = ()  # its other running clocks, most urgent first


def _watch_key(w: ClockWatch) -> tuple[int, datetime]:
    return (w.urgency.rank, w.due)


def board_row(ticket: TicketFacts, now: datetime) -> BoardRow:
    watches = sorted((w for c in ticket.status.clocks.values() if (w := watch(c, now))), key=_watch_key)
    if not watches:
        return BoardRow(ticket, Urgency.NO_DEADLINE, None)
    return BoardRow(ticket, watches[0].urgency, watches[0], tuple(watches[1:]))


def status_board(tickets: Iterable[TicketFacts], now: datetime) -> list[BoardRow]:
    """Open tickets, breached first (most late first), then at risk, then on track, each by deadline;
    tickets with no running deadline (paused, best effort) last, oldest first."""
    rows = [board_row(t, now) for t in tickets if t.is_open]
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(
        rows,
        key=lambda r: (r.urgency.rank, r.headline.due if r.headline else far, r.ticket.opened_at, r.ticket.key),
    )
