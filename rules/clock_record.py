"""The stored record of each SLA clock (`sla_clocks`), and stopped verdicts read back from it.

A record is written in the same transaction as every change of a ticket, so it
is true until the next change: a running clock's deadline and at-risk instant
only move when something happens to the ticket. That lets "breached now" and
"at risk now" be index range queries instead of replaying every ticket:

- breached now: `status = 'running' and due_at < now`
- at risk now:  `status = 'running' and at_risk_at <= now <= due_at`

A stopped clock's verdict (met or missed), deadline and stop instant are kept
as measured: `frozen_verdicts` lays them over a fresh evaluation, so neither a
policy edit nor a later change of this code re-scores them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Mapping, Sequence

from rules.board import AT_RISK_FLOOR, AT_RISK_SHARE
from rules.sla import ClockName, ClockState, ClockStatus, SlaStatus, UpdatePeriod, _shifted_deadline
from rules.terms import Terms, in_force

UTC = timezone.utc
TICK = timedelta(microseconds=1)
StoredStatus = Literal["running", "paused", "met", "missed", "none"]

_STORED: dict[ClockStatus, StoredStatus] = {
    ClockStatus.RUNNING: "running",
    ClockStatus.BREACHED: "running",  # running past its deadline: breached when due_at < now
    ClockStatus.PAUSED: "paused",
    ClockStatus.MET: "met",
    ClockStatus.MISSED: "missed",
    ClockStatus.NO_TARGET: "none",
    ClockStatus.NOT_STARTED: "none",
    ClockStatus.COURTESY: "none",  # a promised update owes no verdict
}


def at_risk_threshold(target: timedelta | None) -> timedelta:
    """Open time left below which a clock is at risk: 25% of its target, but at least 30 minutes."""
    if target is None or target <= timedelta(0):
        return AT_RISK_FLOOR
    return max(AT_RISK_FLOOR, target * AT_RISK_SHARE)


def at_risk_from(clock: ClockState) -> datetime | None:
    """The first instant a running clock is at risk (`rules.board.classify` says AT_RISK or worse).

    Its open time left falls to the threshold at some instant (or the next
    opening, when that is a closing time: left stays put while closed); it is
    under the threshold one tick (a microsecond, what the database keeps) later.
    A target at or under the threshold is at risk from its start.
    """
    if not clock.active or clock.due is None or clock.started_at is None:
        return None
    threshold = at_risk_threshold(clock.target)
    target = clock.target if clock.target is not None else clock.calendar.measure(clock.started_at, clock.due)
    if threshold > target:
        return clock.started_at.astimezone(UTC)
    at = _shifted_deadline(clock.calendar, clock.started_at, target - threshold, clock._pauses)
    return min(clock.calendar.next_open(at) + TICK, clock.due).astimezone(UTC)


@dataclass(frozen=True)
class ClockRecord:
    """One row of `sla_clocks`, instants in UTC."""

    clock: ClockName
    status: StoredStatus
    target_minutes: int | None
    started_at: datetime | None
    due_at: datetime | None
    at_risk_at: datetime | None
    breached_at: datetime | None  # the deadline it passed (missed) or passes if nothing happens (running)
    stopped_at: datetime | None
    verdict: Literal["met", "missed"] | None  # once stopped; the update clock: over its closed periods
    periods: tuple[UpdatePeriod, ...] = ()  # the update clock's closed periods

    def periods_json(self) -> list[dict[str, Any]]:
        return [{"started_at": _iso(p.started_at), "due": _iso(p.due), "stopped_at": _iso(p.stopped_at)} for p in self.periods]


def _iso(v: datetime | None) -> str | None:
    return None if v is None else v.astimezone(UTC).isoformat()


def _utc(v: datetime | None) -> datetime | None:
    return None if v is None else v.astimezone(UTC)


def record_of(clock: ClockState) -> ClockRecord:
    status = _STORED[clock.status]
    verdict: Literal["met", "missed"] | None = None
    if status in ("met", "missed"):
        verdict = status
    elif clock.name == "update" and clock.history:
        verdict = "met" if all(p.met for p in clock.history) else "missed"
    running = status == "running"
    return ClockRecord(
        clock=clock.name,
        status=status,
        target_minutes=int(clock.target.total_seconds() // 60) if clock.target is not None else None,
        started_at=_utc(clock.started_at),
        due_at=_utc(clock.due),
        at_risk_at=at_risk_from(clock) if running else None,
        breached_at=_utc(clock.due) if status == "missed" or running else None,
        stopped_at=_utc(clock.stopped_at),
        verdict=verdict,
        periods=clock.history,
    )


def clock_records(status: SlaStatus) -> list[ClockRecord]:
    """What `sla_clocks` stores for a ticket's clocks."""
    return [record_of(c) for c in status.clocks.values()]


@dataclass(frozen=True)
class FrozenVerdict:
    """A stored clock as read back: what a stopped clock was judged."""

    clock: ClockName
    status: StoredStatus
    due_at: datetime | None
    stopped_at: datetime | None
    periods: tuple[UpdatePeriod, ...] = ()

    @staticmethod
    def periods_from_json(data: Sequence[Mapping[str, Any]] | None) -> tuple[UpdatePeriod, ...]:
        out = []
        for p in data or ():
            out.append(
                UpdatePeriod(
                    datetime.fromisoformat(p["started_at"]),
                    datetime.fromisoformat(p["due"]),
                    datetime.fromisoformat(p["stopped_at"]) if p.get("stopped_at") else None,
                )
            )
        return tuple(out)


def frozen_verdicts(status: SlaStatus, stored: Sequence[FrozenVerdict]) -> SlaStatus:
    """`status` with the stored verdicts of its stopped clocks and closed update periods.

    A clock that stopped keeps the deadline, stop instant and verdict it was
    stored with; one that runs again (a reopen) is evaluated afresh.
    """
    if not stored:
        return status
    clocks = dict(status.clocks)
    for f in stored:
        c = clocks.get(f.clock)
        if c is None:
            continue
        if f.clock == "update":
            if f.periods and len(f.periods) <= len(c.history):
                history = f.periods + c.history[len(f.periods) :]
                new = replace(c, history=history)
                if c.status in (ClockStatus.MET, ClockStatus.MISSED):
                    new = replace(new, status=ClockStatus.MET if all(p.met for p in history) else ClockStatus.MISSED)
                clocks["update"] = new
            continue
        if f.status in ("met", "missed") and c.status in (ClockStatus.MET, ClockStatus.MISSED):
            clocks[f.clock] = replace(
                c,
                status=ClockStatus.MET if f.status == "met" else ClockStatus.MISSED,
                due=f.due_at.astimezone(c.due.tzinfo) if f.due_at is not None and c.due is not None else f.due_at,
                stopped_at=f.stopped_at.astimezone(c.stopped_at.tzinfo) if f.stopped_at and c.stopped_at else f.stopped_at,
            )
    return replace(status, clocks=clocks)


# -- a ticket's status read back from its records (reports: no event replay) -------------


@dataclass(frozen=True)
class StoredClock:
    """One `sla_clocks` row as a report reads it."""

    clock: ClockName
    status: StoredStatus
    target_minutes: int | None
    started_at: datetime | None
    due_at: datetime | None
    stopped_at: datetime | None
    periods: tuple[UpdatePeriod, ...] = ()


def status_from_records(
    plan_id: str,
    zone: Any,
    severity: str,
    priority: str | None,
    opened_at: datetime,
    terms: Sequence[Terms],
    records: Mapping[str, StoredClock],
    now: datetime,
) -> SlaStatus | None:
    """What `rules.sla.evaluate` (with `frozen_verdicts`) says of a ticket at `now`, from its stored records.

    The records are written with every change of the ticket, so between changes only time moves: a running
    clock is breached once `now` passes its deadline, nothing else changes. None where the records do not
    carry enough to answer exactly (a paused clock: its pause instant and time left are not stored; a
    missing record): the caller evaluates that ticket's events instead. `now` must not be before the
    records were written.
    """
    if not terms or any(name not in records for name in ("first_response", "update", "resolution")):
        return None
    if any(r.status == "paused" for r in records.values()):
        return None
    targets = in_force(terms, now)
    cal = targets.calendar
    opened_at, now = opened_at.astimezone(UTC), now.astimezone(UTC)
    clocks: dict[ClockName, ClockState] = {}
    for name in ("first_response", "update", "resolution"):
        r = records[name]
        target = timedelta(minutes=r.target_minutes) if r.target_minutes is not None else None
        history = r.periods if name == "update" else ()
        if r.status in ("met", "missed"):
            status = ClockStatus.MET if r.status == "met" else ClockStatus.MISSED
            clocks[name] = ClockState(name, status, cal, target, r.started_at, r.due_at, r.stopped_at, history=history)
        elif r.status == "running":
            if r.due_at is None:
                return None
            status = ClockStatus.RUNNING if now <= r.due_at else ClockStatus.BREACHED
            clocks[name] = ClockState(name, status, cal, target, r.started_at, r.due_at, history=history)
        elif name != "update":  # first response or resolution with no target
            clocks[name] = ClockState(name, ClockStatus.NO_TARGET, cal, started_at=r.started_at, stopped_at=r.stopped_at)
        elif history:  # closed periods, none running (a courtesy promise, or no target): the verdicts are the periods'
            clocks[name] = ClockState(name, ClockStatus.NO_TARGET, cal, history=history)
        elif records["first_response"].stopped_at is None and targets.update_interval is not None:
            clocks[name] = ClockState(name, ClockStatus.NOT_STARTED, cal)
        else:
            clocks[name] = ClockState(name, ClockStatus.NO_TARGET, cal)
    return SlaStatus(
        plan_id=plan_id,
        severity=severity,
        applied_severity=targets.applied_severity,
        priority=priority,
        opened_at=opened_at,
        now=now,
        clocks=clocks,
        resolved_at=records["resolution"].stopped_at,
        targets=targets,
        zone=zone,
    )
