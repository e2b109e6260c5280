"""SLA clocks of a ticket, derived from its plan, its start and its event log.

Everything here is a pure function of data and an explicit `now`: the state is
rebuilt from events each time, so storage, the scheduler and reports agree.

Clocks:
- first_response: from the ticket's start to the first human response from the
  support side (acknowledge, update, pause with its question to the customer, or resolve).
- update: after the first response, each update restarts it; an update may state
  its own next-update instant ("or as stated in the previous update"). See
  `_update_clock` for pauses, reclassification and promised (courtesy) updates.
- resolution: from the start to resolve; paused time (waiting on the customer,
  or resolved-then-reopened) is not counted.

Reclassification recomputes running clocks from the original start; a clock
that already stopped keeps the verdict of the severity in force when it stopped.

The reminders and escalations that follow these clocks are `rules.notifications`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone, tzinfo
from enum import Enum
from typing import Literal, Sequence

from rules.calendar import Calendar
from rules.policy import Plan, TargetSet
from rules.terms import Terms, in_force

EventKind = Literal[
    "responded",  # acknowledge or any first human reply from the support side
    "updated",
    "paused",
    "resumed",
    "resolved",
    "reopened",
    "reclassified",
    "escalation_acknowledged",
]
UTC = timezone.utc
ClockName = Literal["first_response", "update", "resolution"]
RESPONSE_KINDS = ("responded", "updated", "paused", "resolved")  # each is a human response to the customer
CLOCK_NAMES: tuple[ClockName, ...] = ("first_response", "update", "resolution")
CLOCK_LABELS = {"first_response": "first response", "update": "next update", "resolution": "resolution"}


@dataclass(frozen=True)
class TicketEvent:
    kind: EventKind
    at: datetime
    severity: str | None = None  # reclassified: the new severity
    next_update_at: datetime | None = None  # updated: "next update at ..." stated by the responder
    clock: ClockName | None = None  # escalation_acknowledged: which clock's escalation
    # Only what the customer can see counts: an action whose message to the customer is still owed does
    # not count yet (`awaiting_customer`); once posted it counts from that instant (`shown_at`).
    awaiting_customer: bool = False
    shown_at: datetime | None = None


class ClockStatus(str, Enum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"  # running past its deadline
    MISSED = "missed"  # stopped after its deadline
    NO_TARGET = "no_target"
    NOT_STARTED = "not_started"  # update clock before the first response
    COURTESY = "courtesy"  # update clock: a promised next update where the severity owes none (a reminder, no verdict)


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class UpdatePeriod:
    """One interval between updates, for compliance figures."""

    started_at: datetime
    due: datetime
    stopped_at: datetime | None

    @property
    def met(self) -> bool | None:
        return None if self.stopped_at is None else self.stopped_at <= self.due


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class ClockState:
    name: ClockName
    status: ClockStatus
    calendar: Calendar
    target: timedelta | None = None
    started_at: datetime | None = None
    due: datetime | None = None
    stopped_at: datetime | None = None
    paused_since: datetime | None = None
    remaining_at_pause: timedelta | None = None
    escalation_acknowledged_at: datetime | None = None
    history: tuple[UpdatePeriod, ...] = ()
    # (reminder fraction of target -> instant), for the reminders of the running period
    _pauses: tuple[tuple[datetime, datetime], ...] = field(default=(), repr=False)

    @property
    def active(self) -> bool:
        """Running (before or after its deadline): reminders and escalations apply."""
        return self.status in (ClockStatus.RUNNING, ClockStatus.BREACHED)

    def remaining(self, now: datetime) -> timedelta | None:
        """Open calendar time left (negative: elapsed time since the breach)."""
        if self.due is None:
            return self.remaining_at_pause
        if now <= self.due:
            return self.calendar.measure(now, self.due)
        return -(now - self.due)

    def instant_at_fraction(self, fraction: float) -> datetime | None:
        """When `fraction` of this period's target will have elapsed on its calendar."""
        if self.started_at is None or self.due is None or self.target is None:
            return None
        return _shifted_deadline(self.calendar, self.started_at, self.target * fraction, self._pauses)


@dataclass(frozen=True, slots=True)  # a 50,000-ticket report holds one per ticket (or more)
class SlaStatus:
    """Every instant is UTC; `zone` is the plan's time zone, for display and local dates only."""

    plan_id: str
    severity: str
    applied_severity: str | None
    priority: str | None
    opened_at: datetime
    now: datetime
    clocks: dict[ClockName, ClockState]
    resolved_at: datetime | None
    targets: TargetSet  # in force at `now` (the ticket's frozen terms): what is shown beside its deadlines
    zone: tzinfo = UTC

    @property
    def placeholder_targets(self) -> bool:
        return self.targets.placeholder

    @property
    def breached(self) -> list[ClockState]:
        return [c for c in self.clocks.values() if c.status in (ClockStatus.BREACHED, ClockStatus.MISSED)]

    def next_deadline(self) -> ClockState | None:
        running = [c for c in self.clocks.values() if c.active and c.due is not None]
        return min(running, key=lambda c: c.due) if running else None  # type: ignore[arg-type, return-value]


def _shifted_deadline(calendar: Calendar, start: datetime, target: timedelta, pauses: Sequence[tuple[datetime, datetime]]) -> datetime:
    """Deadline of `target` open time from `start`, not counting closed pause intervals.

    A pause that begins after the deadline (already breached) does not move it.
    """
    paused = timedelta(0)
    due = calendar.add(start, target)
    for begin, end in pauses:
        if begin >= due:
            break
        paused += calendar.measure(max(begin, start), end)
        due = calendar.add(start, target + paused)
    return due


def _deadline_status(due: datetime, stopped_at: datetime | None, now: datetime) -> ClockStatus:
    """The one verdict rule of a deadline: stopped, it was met or missed; still running, it is running or breached."""
    if stopped_at is not None:
        return ClockStatus.MET if stopped_at <= due else ClockStatus.MISSED
    return ClockStatus.RUNNING if now <= due else ClockStatus.BREACHED


def _severity_at(severity: str, events: Sequence[TicketEvent], at: datetime) -> str:
    for e in events:
        if e.kind == "reclassified" and e.at <= at and e.severity:
            severity = e.severity
    return severity


def evaluate(
    plan: Plan,
    severity: str,
    opened_at: datetime,
    events: Sequence[TicketEvent],
    now: datetime,
    priority: str | None = None,
    terms: Sequence[Terms] | None = None,
) -> SlaStatus:
    """The state of every SLA clock of a ticket at `now`.

    `terms`: the targets frozen with the ticket (`rules.terms`); without them the
    plan's current targets are used (a new ticket, or the CLI's what-if timeline).
    """
    if opened_at.tzinfo is None or now.tzinfo is None:
        raise ValueError("opened_at and now must be timezone-aware")
    if not terms:
        plan.severity(severity)  # unknown severity -> UnknownIdError
    # Instants are UTC inside the engine: an instant in the plan's zone that falls in the repeated autumn
    # hour never compares equal to its UTC copy (PEP 495), and zoned arithmetic is wall-clock arithmetic.
    opened_at, now = opened_at.astimezone(UTC), now.astimezone(UTC)
    shown = (replace(e, at=e.shown_at) if e.shown_at else e for e in events if not e.awaiting_customer)
    seen = sorted((e for e in map(_utc_event, shown) if e.at <= now), key=lambda e: e.at)
    for e in seen:
        if e.kind == "reclassified" and e.severity is not None and not terms:  # None: the priority alone changed
            plan.severity(e.severity)
    current = _severity_at(severity, seen, now)

    def targets_at(at: datetime) -> TargetSet:
        if terms:
            return in_force(terms, at)
        return plan.targets_for(_severity_at(severity, seen, at))

    targets_now = targets_at(now)

    def escalation_ack(clock: ClockName, since: datetime | None) -> datetime | None:
        for e in seen:
            if e.kind == "escalation_acknowledged" and e.clock == clock and (since is None or e.at >= since):
                return e.at
        return None

    # -- pauses and resolution ------------------------------------------------------
    pauses: list[tuple[datetime, datetime]] = []
    paused_since: datetime | None = None
    resolved_at: datetime | None = None
    for e in seen:
        if e.kind == "paused" and paused_since is None and resolved_at is None:
            paused_since = e.at
        elif e.kind == "resumed" and paused_since is not None:
            pauses.append((paused_since, e.at))
            paused_since = None
        elif e.kind == "resolved" and resolved_at is None:
            if paused_since is not None:
                pauses.append((paused_since, e.at))
                paused_since = None
            resolved_at = e.at
        elif e.kind == "reopened" and resolved_at is not None:
            paused_since = resolved_at  # time spent resolved is not counted ...
            pauses.append((paused_since, e.at))  # ... once the ticket is reopened
            paused_since = None
            resolved_at = None

    clocks: dict[ClockName, ClockState] = {}

    # -- first response -------------------------------------------------------------
    # Pausing asks the customer something: that question is a human response too.
    responded_at = next((e.at for e in seen if e.kind in RESPONSE_KINDS), None)
    fr_targets = targets_at(responded_at) if responded_at else targets_now
    if fr_targets.first_response is None:
        clocks["first_response"] = ClockState(
            "first_response", ClockStatus.NO_TARGET, fr_targets.calendar, started_at=opened_at, stopped_at=responded_at
        )
    else:
        due = fr_targets.calendar.add(opened_at, fr_targets.first_response)
        clocks["first_response"] = ClockState(
            "first_response",
            _deadline_status(due, responded_at, now),
            fr_targets.calendar,
            target=fr_targets.first_response,
            started_at=opened_at,
            due=due,
            stopped_at=responded_at,
            escalation_acknowledged_at=escalation_ack("first_response", due),
        )

    # -- updates --------------------------------------------------------------------
    clocks["update"] = _update_clock(seen, targets_now, targets_at, responded_at, resolved_at, paused_since, now)
    if clocks["update"].active:
        clocks["update"] = _with_ack(clocks["update"], escalation_ack("update", clocks["update"].due))

    # -- resolution -----------------------------------------------------------------
    res_targets = targets_at(resolved_at) if resolved_at else targets_now
    if res_targets.resolution is None:
        clocks["resolution"] = ClockState(
            "resolution", ClockStatus.NO_TARGET, res_targets.calendar, started_at=opened_at, stopped_at=resolved_at
        )
    else:
        cal = res_targets.calendar
        target = res_targets.resolution
        if paused_since is not None:
            due_before_pause = _shifted_deadline(cal, opened_at, target, pauses)
            if paused_since < due_before_pause:
                worked = cal.measure(opened_at, paused_since) - sum((cal.measure(max(b, opened_at), e) for b, e in pauses), timedelta(0))
                clocks["resolution"] = ClockState(
                    "resolution",
                    ClockStatus.PAUSED,
                    cal,
                    target=target,
                    started_at=opened_at,
                    paused_since=paused_since,
                    remaining_at_pause=target - worked,
                    _pauses=tuple(pauses),
                )
            else:  # paused after the breach: the breach stands and the clock keeps its deadline
                clocks["resolution"] = ClockState(
                    "resolution",
                    ClockStatus.BREACHED,
                    cal,
                    target=target,
                    started_at=opened_at,
                    due=due_before_pause,
                    paused_since=paused_since,
                    _pauses=tuple(pauses),
                )
        else:
            due = _shifted_deadline(cal, opened_at, target, pauses)
            clocks["resolution"] = ClockState(
                "resolution",
                _deadline_status(due, resolved_at, now),
                cal,
                target=target,
                started_at=opened_at,
                due=due,
                stopped_at=resolved_at,
                escalation_acknowledged_at=escalation_ack("resolution", due),
                _pauses=tuple(pauses),
            )

    return SlaStatus(
        plan_id=plan.id,
        severity=current,
        applied_severity=targets_now.applied_severity,
        priority=priority,
        opened_at=opened_at,
        now=now,
        clocks=clocks,
        resolved_at=resolved_at,
        targets=targets_now,
        zone=plan.timezone,
    )


def _utc_event(e: TicketEvent) -> TicketEvent:
    return replace(e, at=e.at.astimezone(UTC), next_update_at=e.next_update_at.astimezone(UTC) if e.next_update_at else None)


def _with_ack(clock: ClockState, ack: datetime | None) -> ClockState:
    return replace(clock, escalation_acknowledged_at=ack)


def _period_due(start: datetime, stated: datetime | None, targets: TargetSet) -> tuple[datetime | None, bool]:
    """An update period's deadline, and whether it is owed (False: a courtesy promise, no verdict)."""
    interval = targets.update_interval
    if stated is not None:
        return stated, interval is not None
    return (targets.calendar.add(start, interval), True) if interval is not None else (None, False)


def _update_clock(
    seen: Sequence[TicketEvent],
    targets_now: TargetSet,
    targets_at,
    responded_at: datetime | None,
    resolved_at: datetime | None,
    paused_since: datetime | None,
    now: datetime,
) -> ClockState:
    """Periods between updates; the running one restarts at each update.

    - A period is judged by the targets in force when it ends (or now, while it
      runs), measured from its start: a reclassification re-targets the running
      period from its start, as it does the other running clocks, so a period
      has one verdict, the same while running and once it ended.
    - While paused (waiting on the customer) no period runs: an update then is
      a courtesy, and a next-update time it states survives the resume when it
      is later than the resume.
    - A next-update time stated where the severity owes no updates is a
      promise: a reminder at that time (COURTESY), no verdict, not counted.
    """
    cal = targets_now.calendar
    if responded_at is None:
        status = ClockStatus.NOT_STARTED if targets_now.update_interval else ClockStatus.NO_TARGET
        return ClockState("update", status, cal)
    history: list[UpdatePeriod] = []
    start: datetime | None = responded_at
    stated: datetime | None = None
    waiting = False  # paused or resolved: no period runs
    promised: datetime | None = None  # stated by a courtesy update while waiting
    for e in seen:
        if e.at < responded_at:
            continue
        if e.kind == "updated" and e.at == responded_at and start == responded_at and stated is None:
            stated = e.next_update_at  # the first response was itself an update
            continue
        if e.kind in ("updated", "paused", "resolved") and start is not None:
            due, owed = _period_due(start, stated, targets_at(e.at))
            if due is not None and owed and e.at > start:
                history.append(UpdatePeriod(start, due, e.at))
            start = None
            stated = None
        if e.kind in ("paused", "resolved"):
            waiting, promised = True, None
        elif e.kind == "updated":
            if waiting:
                promised = e.next_update_at or promised
            else:
                start, stated = e.at, e.next_update_at
        elif e.kind == "resumed" and waiting:
            waiting = False
            start, stated = e.at, promised if promised is not None and promised > e.at else None
            promised = None
        elif e.kind == "reopened":
            waiting = False
            start, stated, promised = e.at, None, None
    if start is None or resolved_at is not None or paused_since is not None:
        status = ClockStatus.PAUSED if paused_since is not None and resolved_at is None else ClockStatus.NO_TARGET
        if history and status is ClockStatus.NO_TARGET:
            status = ClockStatus.MET if all(p.met for p in history) else ClockStatus.MISSED
        return ClockState("update", status, cal, target=targets_now.update_interval, history=tuple(history))
    due, owed = _period_due(start, stated, targets_now)
    if due is None:
        return ClockState("update", ClockStatus.NO_TARGET, cal, history=tuple(history))
    if not owed:
        return ClockState("update", ClockStatus.COURTESY, cal, started_at=start, due=due, history=tuple(history))
    interval = targets_now.update_interval
    target = interval if stated is None else cal.measure(start, stated)
    return ClockState(
        "update",
        _deadline_status(due, None, now),
        cal,
        target=target,
        started_at=start,
        due=due,
        history=tuple(history),
    )
