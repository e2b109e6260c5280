"""The hand-built tickets, policy and instants the report, board and period tests share.

The test policy has a 24/7 plan (gold) and an office-hours plan (silver), Europe/Berlin
(UTC+1 in November). "Now" is Fri 2026-11-20 12:00 UTC unless a test says otherwise.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from rules.board import TicketFacts
from rules.compliance import build_report
from rules.periods import Period
from rules.policy_load import parse_policy
from rules.quota import CustomerCases
from rules.sla import TicketEvent, evaluate

POLICY = parse_policy(
    """
vendor: {id: acme-test, name: Acme Test, timezone: Europe/Berlin}
severities:
  - {id: high, name: High, definition: "Production is down."}
  - {id: low, name: Low, definition: "A question."}
calendars:
  always: {always_open: true}
  office: {timezone: Europe/Berlin, hours: {mon-fri: "09:00-17:00"}}
plans:
  - id: gold
    name: Gold
    calendar: always
    limits: {cases: {max: 3, per: month}}
    targets:
      high: {first_response: 1h, update_interval: 2h, resolution: 8h}
      low: {first_response: 4h, resolution: 2d}
  - id: silver
    name: Silver
    calendar: office
    limits: {cases: {max: 2, per: quarter}}
    targets:
      high: {first_response: 4h}
  - id: bronze
    name: Bronze
    calendar: always
  - id: basic
    name: Basic
    calendar: always
    limits: {cases: {max: 10, per: quarter}}
""",
    "test.yaml",
)
PLANS = POLICY.plans
GOLD, SILVER, BRONZE = PLANS["gold"], PLANS["silver"], PLANS["bronze"]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
H, M = timedelta(hours=1), timedelta(minutes=1)


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def ev(kind: str, at: datetime, **kw) -> TicketEvent:
    return TicketEvent(kind, at, **kw)  # type: ignore[arg-type]


def ticket(key, plan, severity, opened, events=(), customer=None, now=NOW, state=None, assignee=None) -> TicketFacts:
    status = evaluate(plan, severity, opened, list(events), now)
    if state is None:
        state = "resolved" if status.resolved_at else "open"
    return TicketFacts(key, plan.id, status, customer=customer, summary=f"summary of {key}", state=state, assignee_id=assignee)


def answered(key: str, severity: str, opened: datetime, responded: datetime, resolved: datetime, now: datetime) -> TicketFacts:
    """An ACME ticket on gold with one response and then the resolve."""
    return ticket(key, GOLD, severity, opened, [ev("responded", responded), ev("resolved", resolved)], customer="ACME", now=now)


def hand_built(now: datetime = NOW) -> list[TicketFacts]:
    return [
        # INC-1 gold/high, ACME. Responded after 30m (first response met, 30m early).
        # Updates every 2h: 08:30->due 10:30, updated 10:00 (met); 10:00->due 12:00, updated 13:00 (missed by 1h);
        # 13:00->due 15:00, resolved 15:00 (met, on the minute). Resolution due 16:00, resolved 15:00: met.
        # Acknowledge 30m, resolve 7h.
        ticket(
            "INC-1",
            GOLD,
            "high",
            utc(11, 2, 8),
            [
                ev("responded", utc(11, 2, 8, 30)),
                ev("updated", utc(11, 2, 10)),
                ev("updated", utc(11, 2, 13)),
                ev("resolved", utc(11, 2, 15)),
            ],
            customer="ACME",
            now=now,
        ),
        # INC-2 gold/high, ACME. First response due 10:00, responded 10:30: missed by 30m (acknowledge 1h30m).
        # Update period 10:30->due 12:30, closed by the resolve at 18:00: missed by 5h30m.
        # Resolution due 17:00, resolved 18:00: missed by 1h (resolve 9h).
        answered("INC-2", "high", utc(11, 3, 9), utc(11, 3, 10, 30), utc(11, 3, 18), now),
        # INC-3 gold/low, ACME. First response 4h: due 14:00, responded 12:00: met (acknowledge 2h).
        # No update target. Resolution 2d = 48h: resolved after 24h: met.
        answered("INC-3", "low", utc(11, 10, 10), utc(11, 10, 12), utc(11, 11, 10), now),
        # INC-4 gold/high, internal. Opened 20 min before now: every clock still running, nothing counted.
        ticket("INC-4", GOLD, "high", utc(11, 20, 11, 40), now=now),
        # INC-5 gold/high, internal. No response: first response due 11-19 09:00, breached, 27h late at now;
        # resolution due 11-19 16:00, breached, 20h late. Updates not started.
        ticket("INC-5", GOLD, "high", utc(11, 19, 8), now=now),
        # INC-6 gold/high, ACME. Opened 10-31 23:30 UTC = 11-01 00:30 Berlin: November in the plan's zone.
        # Responded after 10m (met), update period 23:40->due 01:40 closed by the resolve at 01:00 (met),
        # resolution met. Acknowledge 10m, resolve 1h30m.
        answered("INC-6", "high", utc(10, 31, 23, 30), utc(10, 31, 23, 40), utc(11, 1, 1), now),
        # INC-7 gold/high, ACME. Opened 10-31 22:30 UTC = 23:30 Berlin: October, not in the November report.
        answered("INC-7", "high", utc(10, 31, 22, 30), utc(10, 31, 22, 35), utc(10, 31, 23), now),
        # INC-8 silver/high, Initech, office hours. Opened Fri 11-13 16:00 Berlin (15:00 UTC): 4 business hours
        # = 1h on Friday + 3h on Monday -> due Mon 11-16 12:00 Berlin (11:00 UTC). Responded 10:00 UTC: met.
        # Acknowledge (elapsed) Fri 15:00 -> Mon 10:00 UTC = 67h. No update or resolution target.
        ticket("INC-8", SILVER, "high", utc(11, 13, 15), [ev("responded", utc(11, 16, 10))], customer="Initech", now=now),
    ]


def customers(tickets: list[TicketFacts]) -> list[CustomerCases]:
    def opened(name: str) -> tuple[datetime, ...]:
        return tuple(t.opened_at for t in tickets if t.customer == name)

    return [
        CustomerCases("ACME", GOLD, opened("ACME")),
        # Initech had a case on 10-05 too: 2 in 2026-Q4 with INC-8.
        CustomerCases("Initech", SILVER, opened("Initech") + (utc(10, 5, 10),)),
        CustomerCases("Globex", BRONZE, (utc(11, 5, 10), utc(10, 5, 10))),
    ]


def nov_report():
    tickets = hand_built()
    return build_report(tickets, Period(2026, 11, 1), NOW, PLANS, customers(tickets))
