"""Item 1 of issue 9: instants are UTC inside the engine, so DST changes neither drop nor misplace a notice.

The engine takes and returns UTC instants; the plan's zone is used only inside
calendar arithmetic and for display. Escalation delays and repeats are elapsed
time. Checked on the issue's reproduction and, property-based, on random
openings within three days of a DST change in four zones, every plan shape,
against a slow minute-by-minute oracle.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.calendar import AlwaysOpenCalendar
from rules.notifications import planned_notifications, still_applies
from rules.policy_load import load_policies, parse_policy
from rules.sla import evaluate

UTC = timezone.utc
M, H = timedelta(minutes=1), timedelta(hours=1)
PRESETS = load_policies()


def z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- the reproduction ----------------------------------------------------------------------------


def test_comarch_premium_in_the_repeated_autumn_hour_keeps_every_notice() -> None:
    """Opened 2026-10-25T00:40Z (02:40 CEST), due 01:10Z (02:10 CET, the repeated hour): all six notices stand."""
    plan = PRESETS.plan("comarch-cci-premium")
    opened = z("2026-10-25T00:40Z")
    status = evaluate(plan, "business-critical", opened, [], opened)
    fr = status.clocks["first_response"]
    assert fr.due == z("2026-10-25T01:10Z") and fr.due.utcoffset() == timedelta(0)
    planned = [n for n in planned_notifications(status, plan.notifications) if n.clock == "first_response"]
    assert [(n.kind, n.label, n.at) for n in planned] == [
        ("reminder", "50%", z("2026-10-25T00:55Z")),
        ("reminder", "75%", z("2026-10-25T01:02:30Z")),
        ("reminder", "90%", z("2026-10-25T01:07Z")),
        ("escalation", "level 1", z("2026-10-25T01:10Z")),
        ("escalation", "level 2", z("2026-10-25T01:40Z")),
        ("escalation", "level 3", z("2026-10-25T02:10Z")),
    ]
    for n in planned:
        stored_deadline = n.due.astimezone(UTC)  # as the timer row keeps it
        assert still_applies(evaluate(plan, "business-critical", opened, [], n.at), n.clock, n.kind, stored_deadline), n.label


def test_escalation_delays_are_elapsed_time_across_the_spring_change() -> None:
    """Breached 2026-03-29T00:30Z (01:30 CET); the clocks go forward at 01:00Z: "after 1h" is still one hour."""
    plan = PRESETS.plan("comarch-cci-premium")
    opened = z("2026-03-29T00:00Z")
    status = evaluate(plan, "business-critical", opened, [], opened)
    esc = [
        (n.label, n.at) for n in planned_notifications(status, plan.notifications) if n.kind == "escalation" and n.clock == "first_response"
    ]
    assert esc == [("level 1", z("2026-03-29T00:30Z")), ("level 2", z("2026-03-29T01:00Z")), ("level 3", z("2026-03-29T01:30Z"))]


def test_always_open_measure_across_the_autumn_change_is_25_hours() -> None:
    warsaw = ZoneInfo("Europe/Warsaw")
    start, end = datetime(2026, 10, 24, 12, 0, tzinfo=warsaw), datetime(2026, 10, 25, 12, 0, tzinfo=warsaw)
    assert AlwaysOpenCalendar().measure(start, end) == 25 * H
    assert AlwaysOpenCalendar().add(start, 25 * H) == end and AlwaysOpenCalendar().add(start, 25 * H).utcoffset() == timedelta(0)


# -- the property: random openings near DST changes, every plan shape, a slow oracle ----------------

# (zone, a DST change instant in UTC)
CHANGES = [
    ("Europe/Warsaw", z("2026-03-29T01:00Z")),
    ("Europe/Warsaw", z("2026-10-25T01:00Z")),
    ("Europe/Berlin", z("2026-03-29T01:00Z")),
    ("Europe/Berlin", z("2026-10-25T01:00Z")),
    ("Europe/Helsinki", z("2026-03-29T01:00Z")),
    ("Europe/Helsinki", z("2026-10-25T01:00Z")),
    ("America/New_York", z("2026-03-08T07:00Z")),
    ("America/New_York", z("2026-11-01T06:00Z")),
]

# Plan shapes: 24/7; office hours with an 8h business day; 24/5; split hours; a night window spanning the change.
SHAPES = {
    "always": "{always_open: true}",
    "office": '{timezone: %(tz)s, hours: {mon-fri: "09:00-17:00"}, business_day: 8h}',
    "weekdays": '{timezone: %(tz)s, hours: {mon-fri: "00:00-24:00"}, business_day: 24h}',
    "split": '{timezone: %(tz)s, hours: {mon-thu: ["08:00-12:00", "13:00-17:00"], fri: "08:00-12:00"}, business_day: 8h}',
    "nights": '{timezone: %(tz)s, hours: {mon-sun: "01:00-04:00"}, business_day: 3h}',
}
HOURS = {
    "office": {d: [(time(9), time(17))] for d in range(5)},
    "weekdays": {d: [(time(0), None)] for d in range(5)},
    "split": {**{d: [(time(8), time(12)), (time(13), time(17))] for d in range(4)}, 4: [(time(8), time(12))]},
    "nights": {d: [(time(1), time(4))] for d in range(7)},
}
TARGETS = {
    "high": {"first_response": 30 * M, "resolution": 4 * H},
    "mid": {"first_response": 2 * H, "resolution": "1d"},
    "low": {"first_response": 45 * M, "resolution": "2d"},
}
REMINDERS = [("percent", 50), ("percent", 90), ("before", 15 * M)]
LADDER = [(1, timedelta(0), 30 * M), (2, H, H), (3, 3 * H, 2 * H)]  # (level, after, repeat_every)


def policy_text(tz: str) -> str:
    def dur(v) -> str:
        return v if isinstance(v, str) else f"{int(v.total_seconds() // 60)}m"

    cals = "\n".join(f"  {name}: {spec % {'tz': tz}}" for name, spec in SHAPES.items())
    plans = "\n".join(
        f"  - id: p-{shape}\n    name: {shape}\n    calendar: {shape}\n    targets:\n"
        + "\n".join(
            f"      {sev}: {{first_response: {dur(t['first_response'])}, resolution: {dur(t['resolution'])}}}" for sev, t in TARGETS.items()
        )
        for shape in SHAPES
    )
    return f"""
vendor: {{id: dst-{tz.replace("/", "-").lower()}, name: DST, timezone: {tz}}}
severities:
  - {{id: high, name: High, definition: "h"}}
  - {{id: mid, name: Mid, definition: "m"}}
  - {{id: low, name: Low, definition: "l"}}
calendars:
{cals}
notifications:
  reminders: [{{percent: 50}}, {{percent: 90}}, {{before: 15m}}]
  escalation:
    - {{level: 1, notify: on-call, after: 0m, repeat_every: 30m}}
    - {{level: 2, notify: next-level, after: 1h, repeat_every: 1h}}
    - {{level: 3, notify: manager, after: 3h, repeat_every: 2h}}
plans:
{plans}
"""


POLICIES = {tz: parse_policy(policy_text(tz), f"dst-{tz}.yaml") for tz in {c[0] for c in CHANGES}}


class Oracle:
    """Minute by minute, in the zone's wall time: slow, and obviously right."""

    def __init__(self, tz: str, shape: str):
        self.zone, self.shape = ZoneInfo(tz), shape

    def is_open(self, t: datetime) -> bool:
        if self.shape == "always":
            return True
        local = t.astimezone(self.zone)
        clock = local.time()
        return any(s <= clock and (e is None or clock < e) for s, e in HOURS[self.shape].get(local.weekday(), []))

    def business_day(self) -> timedelta:
        return {"always": 24 * H, "office": 8 * H, "weekdays": 24 * H, "split": 8 * H, "nights": 3 * H}[self.shape]

    def span(self, v) -> timedelta:
        return int(v[:-1]) * self.business_day() if isinstance(v, str) else v

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of open time after `start` (whole-minute starts; a partial last minute is fine)."""
        t, left = start.astimezone(UTC), duration
        while True:
            if self.is_open(t):
                if left <= M:
                    return t + left
                left -= M
            t += M


def oracle_plan(oracle: Oracle, opened: datetime, targets: dict) -> set[tuple]:
    out = set()
    for clock in ("first_response", "resolution"):
        target = oracle.span(targets[clock])
        due = oracle.add(opened, target)
        for kind, value in REMINDERS:
            if kind == "percent":
                out.add((clock, "reminder", f"{value}%", oracle.add(opened, target * value / 100), due))
            elif value < target:
                out.add((clock, "reminder", "15m before", oracle.add(opened, target - value), due))

        def later(since: datetime, delay: timedelta) -> datetime:
            """Escalations after the first ping wait for open hours (elapsed time on a 24/7 calendar)."""
            return since + delay if oracle.shape == "always" else oracle.add(since, delay)

        for i, (level, after, every) in enumerate(LADDER):
            at, repeat = (due + after if i == 0 else later(due, after)), 0
            nxt = later(due, LADDER[i + 1][1]) if i + 1 < len(LADDER) else None
            while repeat == 0 or (nxt is not None and at < nxt):
                out.add((clock, "escalation", f"level {level}" + (f" repeat {repeat}" if repeat else ""), at, due))
                if nxt is None:
                    break
                at, repeat = later(at, every), repeat + 1
    return out


@settings(max_examples=120, deadline=None)
@given(
    change=st.sampled_from(CHANGES),
    offset_minutes=st.integers(-3 * 24 * 60, 3 * 24 * 60),
    shape=st.sampled_from(list(SHAPES)),
    severity=st.sampled_from(list(TARGETS)),
)
def test_notifications_near_dst_changes_match_the_oracle(change, offset_minutes: int, shape: str, severity: str) -> None:
    tz, instant = change
    plan = POLICIES[tz].plans[f"p-{shape}"]
    opened = instant + timedelta(minutes=offset_minutes)
    status = evaluate(plan, severity, opened, [], opened)
    planned = planned_notifications(status, plan.notifications)
    got = {(n.clock, n.kind, n.label, n.at, n.due) for n in planned}
    assert got == oracle_plan(Oracle(tz, shape), opened, TARGETS[severity])
    for n in planned:
        assert n.at.utcoffset() == timedelta(0) and n.due.utcoffset() == timedelta(0)
        if n.kind == "escalation":
            assert n.at >= n.due
        later = evaluate(plan, severity, opened, [], n.at)
        assert still_applies(later, n.clock, n.kind, n.due.astimezone(UTC)), (n.clock, n.label, n.at)


# -- stored timers: keys written before the change name their deadline in the plan's zone -------------


async def test_timer_keys_move_to_utc_so_no_notice_is_planned_twice(tmp_path) -> None:
    import sqlalchemy as sa

    from bot.services import ReportDraft, build_services, record_action
    from bot.settings import Settings
    from rules.clock import ManualClock
    from storage.db import upgrade
    from storage.models import SlaTimer

    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    clock = ManualClock(z("2026-10-25T00:40Z"))
    services = build_services(Settings(_env_file=None, database_url=url, default_plan="comarch-cci-premium"), clock=clock)
    try:
        await upgrade(services.engine)
        t = (await services.open_ticket(ReportDraft("C1", "U1", "down", severity="business-critical"))).ticket
        from alembic import command

        from storage.db import _alembic_config

        warsaw = ZoneInfo("Europe/Warsaw")
        async with services.sessions() as s:
            rows = (await s.execute(sa.select(SlaTimer).where(SlaTimer.ticket_id == t.id))).scalars().all()
            planned = {r.id: r.key for r in rows}
            for r in rows:  # as the code before the change wrote them
                zoned = r.deadline.astimezone(warsaw).isoformat()
                r.key = f"{r.clock}:{zoned}:{r.kind}:{r.level or 0}:{r.label}:{r.repeat}"
            await s.commit()
        assert any("+02:00" in k or "+01:00" in k for k in (r.key for r in rows))

        def rerun_0004(c) -> None:  # the key migration on these rows (the schema is today's: 0004 changes no table)
            command.stamp(_alembic_config(c), "0003_sla_clock_records")
            command.upgrade(_alembic_config(c), "0004_utc_timer_keys")
            command.stamp(_alembic_config(c), "head")

        async with services.engine.begin() as conn:
            await conn.run_sync(rerun_0004)
        async with services.sessions() as s:
            keys = dict((await s.execute(sa.select(SlaTimer.id, SlaTimer.key).where(SlaTimer.ticket_id == t.id))).all())
        assert keys == planned
        await record_action(services, t.id, "assigned", "U2", data={"assignee": "U2"})  # re-plans the ticket's timers
        async with services.sessions() as s:
            count = (await s.execute(sa.select(sa.func.count()).select_from(SlaTimer).where(SlaTimer.ticket_id == t.id))).scalar()
        assert count == len(planned)
    finally:
        await services.close()
