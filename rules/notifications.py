"""Reminders before a deadline and escalations after it: planned, due now, repeated, still wanted.

Pure functions of a ticket's SLA status (`rules.sla.evaluate`) and the plan's
notification policy; the scheduler stores the plan as timer rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Container, Generic, Iterable, Iterator, Literal, Sequence, TypeVar

from rules.calendar import AlwaysOpenCalendar, Calendar
from rules.policy_file import EscalationLevel, Notifications
from rules.sla import ClockName, ClockState, ClockStatus, SlaStatus

ONE_DAY = timedelta(days=1)
PROMISE_LABEL = "promised update"

T = TypeVar("T")


@dataclass(frozen=True)
class Notification:
    """A reminder before a deadline, or an escalation ping after it."""

    kind: Literal["reminder", "escalation"]
    clock: ClockName
    at: datetime
    due: datetime
    level: int | None = None  # escalation level
    notify: str | None = None  # escalation target: on-call, next-level, manager ...
    label: str = ""  # "50%", "15m before", "level 1", "level 1 repeat 2"
    repeat: int = 0

    @property
    def key(self) -> str:
        """Stable identity for de-duplication: the same reminder is never sent twice (the deadline in UTC)."""
        return timer_key(self.clock, self.due, self.kind, self.level, self.label, self.repeat)


def timer_key(clock: str, due: datetime, kind: str, level: int | None, label: str, repeat: int) -> str:
    """A notification's identity; migration 0004 rewrote older keys (deadline in the plan's zone) to this form."""
    return f"{clock}:{due.astimezone(timezone.utc).isoformat()}:{kind}:{level or 0}:{label}:{repeat}"


def _reminders(clock: ClockState, policy: Notifications) -> Iterator[Notification]:
    assert clock.due is not None and clock.target is not None
    for r in policy.reminders:
        if r.percent is not None:
            at = clock.instant_at_fraction(r.percent / 100)
            label = f"{r.percent:g}%"
        else:
            assert r.before is not None
            before = r.before.to_timedelta(timedelta(days=1))
            if before >= clock.target:
                continue
            at = clock.instant_at_fraction(1 - before / clock.target)
            label = f"{r.before} before"
        if at is not None and at < clock.due:
            yield Notification("reminder", clock.name, at, clock.due, label=label)


def _business_hours(clock: ClockState, level: EscalationLevel) -> bool:
    """Do this level's pings wait for open hours? Not on a 24/7 calendar, nor with `hours: always`."""
    return level.hours == "business" and not isinstance(clock.calendar, AlwaysOpenCalendar)


def _later(clock: ClockState, level: EscalationLevel, since: datetime, delay: timedelta) -> datetime:
    """`delay` after `since`: elapsed time, or open time on the clock's calendar when the level keeps business hours."""
    return clock.calendar.add(since, delay) if _business_hours(clock, level) else since + delay


def _level_start(clock: ClockState, levels: Sequence[EscalationLevel], i: int) -> datetime:
    """The first ping of level i: the first level's goes out at once; higher levels wait for open hours."""
    assert clock.due is not None
    after = levels[i].after.to_timedelta(ONE_DAY)
    return clock.due + after if i == 0 else _later(clock, levels[i], clock.due, after)


def _escalations(clock: ClockState, ladder: Sequence[EscalationLevel], until: datetime) -> Iterator[Notification]:
    assert clock.due is not None
    levels = list(ladder)
    for i, level in enumerate(levels):
        nxt = _level_start(clock, levels, i + 1) if i + 1 < len(levels) else None
        at, repeat = _level_start(clock, levels, i), 0
        while at <= until and (nxt is None or at < nxt or repeat == 0):
            yield Notification(
                "escalation",
                clock.name,
                at,
                clock.due,
                level=level.level,
                notify=level.notify,
                label=f"level {level.level}" + (f" repeat {repeat}" if repeat else ""),
                repeat=repeat,
            )
            if level.repeat_every is None:
                break
            step = level.repeat_every.to_timedelta(ONE_DAY)
            if step <= timedelta(0):
                break
            at, repeat = _later(clock, level, at, step), repeat + 1


def _promise(clock: ClockState) -> Notification:
    """A courtesy reminder at the next-update time promised where none is owed."""
    assert clock.due is not None
    return Notification("reminder", clock.name, clock.due, clock.due, label=PROMISE_LABEL)


def notification_schedule(status: SlaStatus, policy: Notifications, until: datetime) -> list[Notification]:
    """Every reminder and escalation ping of the running clocks up to `until`, in time order.

    Stopped or paused clocks have none; a clock whose breach was acknowledged has
    no further escalation. Escalation level N repeats until level N+1 starts; the
    last level repeats until someone acts. A promised (courtesy) update gets one
    reminder at the promised time, and no escalation.
    """
    out: list[Notification] = []
    for clock in status.clocks.values():
        if clock.status is ClockStatus.COURTESY and clock.due is not None:
            out.append(_promise(clock))
            continue
        if not clock.active or clock.due is None:
            continue
        if clock.target is not None:
            out.extend(_reminders(clock, policy))
        if clock.escalation_acknowledged_at is None:
            out.extend(_escalations(clock, policy.escalation, until))
    return sorted((n for n in out if n.at <= until), key=lambda n: (n.at, n.clock, n.kind))


def notice_order(n: Notification) -> tuple[datetime, bool, int, int, str]:
    """Which of two notices of one clock is further along: later, an escalation over a reminder,
    a higher level, a later repeat (the label only breaks ties between reminders due together)."""
    return (n.at, n.kind == "escalation", n.level or 0, n.repeat, n.label)


@dataclass(frozen=True)
class Folded(Generic[T]):
    latest: T  # the one that goes out
    older: list[T]  # folded into it, never sent


def fold(items: Iterable[T], as_notice: Callable[[T], Notification]) -> list[Folded[T]]:
    """The folding rule: per clock and deadline, only the notice furthest along goes out; the
    older ones that were missed (downtime, a reclassification that breached at once) fold into
    it: one message at the ladder's current step, not a burst.

    `due_notifications` folds planned notices; the scheduler folds stored timer rows with it.
    """
    groups: dict[tuple[str, datetime], list[T]] = {}
    for item in items:
        n = as_notice(item)
        groups.setdefault((n.clock, n.due), []).append(item)
    out = []
    for group in groups.values():
        group.sort(key=lambda item: notice_order(as_notice(item)))
        *older, latest = group
        out.append(Folded(latest, older))
    return out


def due_notifications(status: SlaStatus, policy: Notifications, now: datetime, sent: Container[str] = frozenset()) -> list[Notification]:
    """What should go out at `now`: per clock, the latest due notification not yet sent (`fold`).

    A reminder whose deadline has passed is not sent.
    """
    wanted = [
        n for n in notification_schedule(status, policy, now) if not (n.kind == "reminder" and n.due <= now and n.label != PROMISE_LABEL)
    ]
    return [f.latest for f in fold(wanted, lambda n: n) if f.latest.key not in sent]


def escalation_horizon(status: SlaStatus, policy: Notifications) -> datetime | None:
    """When the last escalation level of the latest running deadline first pings (open hours counted)."""
    ladder = list(policy.escalation)
    starts = [
        _level_start(c, ladder, len(ladder) - 1) if ladder else c.due
        for c in status.clocks.values()
        if c.due is not None and (c.active or c.status is ClockStatus.COURTESY)
    ]
    return max(starts, default=None)


def planned_notifications(status: SlaStatus, policy: Notifications) -> list[Notification]:
    """A finite plan for the running clocks, to store as timer rows.

    Every reminder, every escalation level's pings until the next level starts,
    and the last level's first ping; its repeats follow one at a time
    (`next_repeat`) for as long as nobody acts.
    """
    ladder = policy.escalation
    last_level = ladder[-1].level if ladder else None
    horizon = escalation_horizon(status, policy)
    if horizon is None:
        return []
    return [
        n for n in notification_schedule(status, policy, horizon) if not (n.kind == "escalation" and n.level == last_level and n.repeat > 0)
    ]


def next_repeat(sent: Notification, policy: Notifications, calendar: Calendar | None = None) -> Notification | None:
    """The next ping of the last escalation level, after `sent` went out.

    With the clock's `calendar` (not 24/7) the repeat waits for open hours, unless the level says `hours: always`.
    """
    if sent.kind != "escalation" or not policy.escalation:
        return None
    last = policy.escalation[-1]
    if sent.level != last.level or last.repeat_every is None:
        return None
    step = last.repeat_every.to_timedelta(ONE_DAY)
    if step <= timedelta(0):
        return None
    repeat = sent.repeat + 1
    business = calendar is not None and last.hours == "business" and not isinstance(calendar, AlwaysOpenCalendar)
    at = calendar.add(sent.at, step) if business else sent.at + step  # type: ignore[union-attr]
    return replace(sent, at=at, repeat=repeat, label=f"level {last.level} repeat {repeat}")


def still_applies(status: SlaStatus, clock: ClockName, kind: str, deadline: datetime) -> bool:
    """Is a planned reminder or escalation for this clock and deadline still wanted now?

    Not when the clock stopped or paused, its deadline moved (reclassified,
    updated, resumed), a reminder's deadline has passed, or the breach was
    acknowledged.
    """
    state = status.clocks.get(clock)
    if state is not None and state.status is ClockStatus.COURTESY:
        return kind == "reminder" and state.due == deadline
    if state is None or not state.active or state.due != deadline:
        return False
    if kind == "reminder":
        return status.now < deadline
    return state.escalation_acknowledged_at is None
