"""Reminders before a deadline and escalations after it: planned, due now, repeated, still wanted.

Pure functions of a ticket's SLA status (`rules.sla.evaluate`) and the plan's
notification policy; the scheduler stores the plan as timer rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Callable, Container, Generic, Iterable, Iterator, Literal, Sequence, TypeVar

from rules.policy_file import EscalationLevel, Notifications
from rules.sla import ClockName, ClockState, SlaStatus

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


def _escalations(clock: ClockState, ladder: Sequence[EscalationLevel], until: datetime) -> Iterator[Notification]:
    assert clock.due is not None
    levels = list(ladder)
    for i, level in enumerate(levels):
        first = clock.due + level.after.to_timedelta(timedelta(days=1))
        nxt = clock.due + levels[i + 1].after.to_timedelta(timedelta(days=1)) if i + 1 < len(levels) else None
        at, repeat = first, 0
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
            step = level.repeat_every.to_timedelta(timedelta(days=1))
            if step <= timedelta(0):
                break
            at, repeat = at + step, repeat + 1


def notification_schedule(status: SlaStatus, policy: Notifications, until: datetime) -> list[Notification]:
    """Every reminder and escalation ping of the running clocks up to `until`, in time order.

    Stopped or paused clocks have none; a clock whose breach was acknowledged has
    no further escalation. Escalation level N repeats until level N+1 starts; the
    last level repeats until someone acts.
    """
    out: list[Notification] = []
    for clock in status.clocks.values():
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


def due_notifications(
    status: SlaStatus, policy: Notifications, now: datetime, sent: Container[str] = frozenset()
) -> list[Notification]:
    """What should go out at `now`: per clock, the latest due notification not yet sent (`fold`).

    A reminder whose deadline has passed is not sent.
    """
    wanted = [n for n in notification_schedule(status, policy, now) if not (n.kind == "reminder" and n.due <= now)]
    return [f.latest for f in fold(wanted, lambda n: n) if f.latest.key not in sent]


def planned_notifications(status: SlaStatus, policy: Notifications) -> list[Notification]:
    """A finite plan for the running clocks, to store as timer rows.

    Every reminder, every escalation level's pings until the next level starts,
    and the last level's first ping; its repeats follow one at a time
    (`next_repeat`) for as long as nobody acts.
    """
    ladder = policy.escalation
    last_level = ladder[-1].level if ladder else None
    horizon = max(
        (c.due + (ladder[-1].after.to_timedelta(timedelta(days=1)) if ladder else timedelta(0))
         for c in status.clocks.values() if c.active and c.due is not None),
        default=None,
    )
    if horizon is None:
        return []
    return [
        n
        for n in notification_schedule(status, policy, horizon)
        if not (n.kind == "escalation" and n.level == last_level and n.repeat > 0)
    ]


def next_repeat(sent: Notification, policy: Notifications) -> Notification | None:
    """The next ping of the last escalation level, after `sent` went out."""
    if sent.kind != "escalation" or not policy.escalation:
        return None
    last = policy.escalation[-1]
    if sent.level != last.level or last.repeat_every is None:
        return None
    step = last.repeat_every.to_timedelta(timedelta(days=1))
    if step <= timedelta(0):
        return None
    repeat = sent.repeat + 1
    return replace(sent, at=sent.at + step, repeat=repeat, label=f"level {last.level} repeat {repeat}")


def still_applies(status: SlaStatus, clock: ClockName, kind: str, deadline: datetime) -> bool:
    """Is a planned reminder or escalation for this clock and deadline still wanted now?

    Not when the clock stopped or paused, its deadline moved (reclassified,
    updated, resumed), a reminder's deadline has passed, or the breach was
    acknowledged.
    """
    state = status.clocks.get(clock)
    if state is None or not state.active or state.due != deadline:
        return False
    if kind == "reminder":
        return status.now < deadline
    return state.escalation_acknowledged_at is None
