"""rules/periods.py, rules/board.py, rules/compliance.py, rules/quota.py and bot/exports.py against a hand-built set of tickets whose figures are worked out by hand below.

The test policy has a 24/7 plan (gold) and an office-hours plan (silver), Europe/Berlin
(UTC+1 in November). "Now" is Fri 2026-11-20 12:00 UTC unless a test says otherwise.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest

from bot.exports import CSV_COLUMNS, report_csv, report_dict
from rules.board import TicketFacts, Urgency, classify, status_board
from rules.compliance import DurationStats, Rate, build_report, deadline_verdicts
from rules.errors import PeriodError
from rules.periods import Period, parse_period
from rules.policy import parse_policy
from rules.quota import CustomerCases, quota_use
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


def hand_built(now: datetime = NOW) -> list[TicketFacts]:
    return [
        # INC-1 gold/high, ACME. Responded after 30m (first response met, 30m early).
        # Updates every 2h: 08:30->due 10:30, updated 10:00 (met); 10:00->due 12:00, updated 13:00 (missed by 1h);
        # 13:00->due 15:00, resolved 15:00 (met, on the minute). Resolution due 16:00, resolved 15:00: met.
        # Acknowledge 30m, resolve 7h.
        ticket("INC-1", GOLD, "high", utc(11, 2, 8), [
            ev("responded", utc(11, 2, 8, 30)), ev("updated", utc(11, 2, 10)), ev("updated", utc(11, 2, 13)),
            ev("resolved", utc(11, 2, 15)),
        ], customer="ACME", now=now),
        # INC-2 gold/high, ACME. First response due 10:00, responded 10:30: missed by 30m (acknowledge 1h30m).
        # Update period 10:30->due 12:30, closed by the resolve at 18:00: missed by 5h30m.
        # Resolution due 17:00, resolved 18:00: missed by 1h (resolve 9h).
        ticket("INC-2", GOLD, "high", utc(11, 3, 9), [ev("responded", utc(11, 3, 10, 30)), ev("resolved", utc(11, 3, 18))],
               customer="ACME", now=now),
        # INC-3 gold/low, ACME. First response 4h: due 14:00, responded 12:00: met (acknowledge 2h).
        # No update target. Resolution 2d = 48h: resolved after 24h: met.
        ticket("INC-3", GOLD, "low", utc(11, 10, 10), [ev("responded", utc(11, 10, 12)), ev("resolved", utc(11, 11, 10))],
               customer="ACME", now=now),
        # INC-4 gold/high, internal. Opened 20 min before now: every clock still running, nothing counted.
        ticket("INC-4", GOLD, "high", utc(11, 20, 11, 40), now=now),
        # INC-5 gold/high, internal. No response: first response due 11-19 09:00, breached, 27h late at now;
        # resolution due 11-19 16:00, breached, 20h late. Updates not started.
        ticket("INC-5", GOLD, "high", utc(11, 19, 8), now=now),
        # INC-6 gold/high, ACME. Opened 10-31 23:30 UTC = 11-01 00:30 Berlin: November in the plan's zone.
        # Responded after 10m (met), update period 23:40->due 01:40 closed by the resolve at 01:00 (met),
        # resolution met. Acknowledge 10m, resolve 1h30m.
        ticket("INC-6", GOLD, "high", utc(10, 31, 23, 30), [ev("responded", utc(10, 31, 23, 40)), ev("resolved", utc(11, 1, 1))],
               customer="ACME", now=now),
        # INC-7 gold/high, ACME. Opened 10-31 22:30 UTC = 23:30 Berlin: October, not in the November report.
        ticket("INC-7", GOLD, "high", utc(10, 31, 22, 30), [ev("responded", utc(10, 31, 22, 35)), ev("resolved", utc(10, 31, 23))],
               customer="ACME", now=now),
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


# -- periods -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "now", "label", "first", "end"),
    [
        (None, NOW, "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
        ("this-month", NOW, "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
        ("last-month", utc(1, 15, 9).replace(year=2026), "2025-12", date(2025, 12, 1), date(2026, 1, 1)),
        ("this-quarter", NOW, "2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
        ("last-quarter", utc(2, 1, 0), "2025-Q4", date(2025, 10, 1), date(2026, 1, 1)),
        ("2026-3", NOW, "2026-03", date(2026, 3, 1), date(2026, 4, 1)),
        ("2026-q2", NOW, "2026-Q2", date(2026, 4, 1), date(2026, 7, 1)),
        (" 2026-Q4 ", NOW, "2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
        # relative periods are read in UTC: 23:30 UTC on Nov 30 is already December in Berlin, still November here
        ("this-month", utc(11, 30, 23, 30), "2026-11", date(2026, 11, 1), date(2026, 12, 1)),
    ],
)
def test_parse_period(text, now, label, first, end) -> None:
    p = parse_period(text, now)
    assert (p.label, p.first_day, p.end_day) == (label, first, end)


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "2026-Q0", "yesterday", "26-11", "2026/11", "november"])
def test_bad_period_lists_valid_forms(text: str) -> None:
    with pytest.raises(PeriodError) as e:
        parse_period(text, NOW)
    msg = str(e.value)
    assert repr(text) in msg
    for form in ("this-month", "last-month", "this-quarter", "last-quarter", "YYYY-MM", "YYYY-Qn"):
        assert form in msg


def test_period_bounds_in_a_time_zone() -> None:
    from zoneinfo import ZoneInfo

    start, end = Period(2026, 10, 3).bounds(ZoneInfo("Europe/Berlin"))
    assert start.astimezone(timezone.utc) == utc(9, 30, 22)  # CEST, UTC+2
    assert end.astimezone(timezone.utc) == datetime(2026, 12, 31, 23, tzinfo=timezone.utc)  # CET, UTC+1


# -- statistics helpers ------------------------------------------------------------------


def test_median_and_nearest_rank_p90() -> None:
    # 1..10 minutes: median (5+6)/2 = 5.5m; p90 rank ceil(9) = 9 -> 9m
    d = DurationStats.of([i * M for i in range(10, 0, -1)])
    assert (d.count, d.median, d.p90) == (10, 5.5 * M, 9 * M)
    # one value: it is both
    assert DurationStats.of([7 * M]) == DurationStats(1, 7 * M, 7 * M)
    # 11 values 1..11: median 6; p90 rank ceil(9.9) = 10 -> 10m
    d = DurationStats.of([i * M for i in range(1, 12)])
    assert (d.median, d.p90) == (6 * M, 10 * M)
    assert DurationStats.of([]) == DurationStats(0, None, None)


def test_rate() -> None:
    assert Rate(2, 4).percent == 50.0 and Rate(0, 0).percent is None and (Rate(1, 2) + Rate(1, 1)) == Rate(2, 3)


# -- the report --------------------------------------------------------------------------


def test_tickets_in_period_by_plan_time_zone() -> None:
    r = nov_report()
    # INC-6 (11-01 00:30 Berlin) is in, INC-7 (10-31 23:30 Berlin) is out.
    assert [t.key for t in r.tickets] == ["INC-6", "INC-1", "INC-2", "INC-3", "INC-8", "INC-5", "INC-4"]


def test_groups_per_plan_and_severity() -> None:
    r = nov_report()
    assert [(g.plan_id, g.severity, g.tickets) for g in r.groups] == [("gold", "high", 5), ("gold", "low", 1), ("silver", "high", 1)]
    high, low, silver = r.groups
    # gold/high = INC-1, 2, 4, 5, 6.
    # First response: met INC-1, INC-6; missed INC-2; breached INC-5; INC-4 running (not counted) -> 2/4.
    assert high.first_response == Rate(2, 4) and high.first_response.percent == 50.0
    # Updates: INC-1 2 of 3 periods, INC-2 0 of 1, INC-6 1 of 1, INC-4 and INC-5 not started -> 3/5 = 60%.
    assert high.update == Rate(3, 5) and high.update.percent == 60.0
    # Resolution: met INC-1, INC-6; missed INC-2; breached INC-5; INC-4 running -> 2/4.
    assert high.resolution == Rate(2, 4)
    # Acknowledge: 10m, 30m, 1h30m -> median 30m, p90 (rank 3) 1h30m.
    assert high.acknowledge == DurationStats(3, 30 * M, 90 * M)
    # Resolve: 1h30m, 7h, 9h -> median 7h, p90 9h.
    assert high.resolve == DurationStats(3, 7 * H, 9 * H)
    # Breaches, by deadline.
    assert [(b.ticket, b.clock, b.period, b.late_by, b.ongoing) for b in high.breaches] == [
        ("INC-1", "update", 2, 1 * H, False),
        ("INC-2", "first_response", None, 30 * M, False),
        ("INC-2", "update", 1, 5 * H + 30 * M, False),
        ("INC-2", "resolution", None, 1 * H, False),
        ("INC-5", "first_response", None, 27 * H, True),
        ("INC-5", "resolution", None, 20 * H, True),
    ]
    # gold/low = INC-3: all met, no update target.
    assert (low.first_response, low.update, low.resolution, low.breaches) == (Rate(1, 1), Rate(0, 0), Rate(1, 1), ())
    assert low.acknowledge == DurationStats(1, 2 * H, 2 * H) and low.resolve == DurationStats(1, 24 * H, 24 * H)
    # silver/high = INC-8: first response met; acknowledge 67h elapsed over a weekend.
    assert (silver.first_response, silver.resolution) == (Rate(1, 1), Rate(0, 0))
    assert silver.acknowledge == DurationStats(1, 67 * H, 67 * H) and silver.resolve == DurationStats()
    assert r.severity_names[("gold", "high")] == "High"


def test_totals() -> None:
    t = nov_report().total
    assert t.tickets == 7
    assert (t.first_response, t.update, t.resolution) == (Rate(4, 6), Rate(3, 5), Rate(3, 5))
    # Acknowledge 10m, 30m, 1h30m, 2h, 67h -> median 1h30m; p90 rank ceil(4.5) = 5 -> 67h.
    assert t.acknowledge == DurationStats(5, 90 * M, 67 * H)
    # Resolve 1h30m, 7h, 9h, 24h -> median (7h + 9h) / 2 = 8h; p90 rank ceil(3.6) = 4 -> 24h.
    assert t.resolve == DurationStats(4, 8 * H, 24 * H)
    assert len(t.breaches) == 6


def test_weekly_trend() -> None:
    trend = nov_report().trend
    assert [(p.start, p.end, p.tickets) for p in trend] == [
        (date(2026, 11, 1), date(2026, 11, 8), 3),  # INC-6, INC-1, INC-2
        (date(2026, 11, 8), date(2026, 11, 15), 2),  # INC-3, INC-8
        (date(2026, 11, 15), date(2026, 11, 22), 2),  # INC-5, INC-4
        (date(2026, 11, 22), date(2026, 11, 29), 0),
        (date(2026, 11, 29), date(2026, 12, 1), 0),
    ]
    first, second, third = trend[:3]
    assert (first.first_response, first.update, first.resolution) == (Rate(2, 3), Rate(3, 5), Rate(2, 3))
    assert (second.first_response, second.resolution) == (Rate(2, 2), Rate(1, 1))
    assert (third.first_response, third.resolution) == (Rate(0, 1), Rate(0, 1))
    assert first.overall == Rate(7, 11)


def test_quota_use() -> None:
    r = nov_report()
    assert [q.describe() for q in r.quota] == [
        # ACME in November (Berlin): INC-1, 2, 3, 6 -> 4 of 3; the month is not over yet
        "ACME: 4 of 3 in 2026-11 (over, so far)",
        "Globex: 1 case in 2026-11 (no case limit)",
        # Initech counts per quarter: 10-05 and INC-8
        "Initech: 2 of 2 in 2026-Q4 (at limit, so far)",
    ]
    # October, seen from November: the month is complete; INC-7 is ACME's only October case.
    october = build_report(hand_built(), Period(2026, 10, 1), NOW, PLANS, customers(hand_built()))
    assert [q.describe() for q in october.quota][0] == "ACME: 1 of 3 in 2026-10 (within)"
    assert [t.key for t in october.tickets] == ["INC-7"]
    # a quarter report for a monthly plan: one line per month started by now (December has not)
    quarter = quota_use([CustomerCases("ACME", GOLD, tuple(t.opened_at for t in hand_built() if t.customer == "ACME"))], Period(2026, 10, 3), NOW)
    assert [q.describe() for q in quarter] == ["ACME: 1 of 3 in 2026-10 (within)", "ACME: 4 of 3 in 2026-11 (over, so far)"]


def test_quota_matches_the_brief_example() -> None:
    # 11 cases in October on a plan of 10 per quarter, seen after the quarter ended
    opened = tuple(utc(10, d, 10) for d in range(1, 12))
    (q,) = quota_use([CustomerCases("ACME", PLANS["basic"], opened)], Period(2026, 10, 1), datetime(2027, 1, 5, tzinfo=timezone.utc))
    assert q.describe() == "ACME: 11 of 10 in 2026-Q4 (over)"


def test_filters() -> None:
    tickets = hand_built()
    r = build_report(tickets, Period(2026, 11, 1), NOW, PLANS, customers(tickets), customer="acme")
    assert [t.key for t in r.tickets] == ["INC-6", "INC-1", "INC-2", "INC-3"]
    assert [q.customer for q in r.quota] == ["ACME"]
    r = build_report(tickets, Period(2026, 11, 1), NOW, PLANS, customers(tickets), plan_id="silver")
    assert [t.key for t in r.tickets] == ["INC-8"] and [q.customer for q in r.quota] == ["Initech"]


def test_empty_report() -> None:
    r = build_report([], Period(2026, 11, 1), NOW, PLANS)
    assert r.tickets == () and r.groups == () and r.total.tickets == 0 and r.total.first_response.percent is None
    assert len(r.trend) == 5 and all(p.tickets == 0 for p in r.trend)
    assert report_csv(r).strip() == ",".join(CSV_COLUMNS)


def test_csv_one_row_per_ticket() -> None:
    rows = list(csv.DictReader(io.StringIO(report_csv(nov_report()))))
    assert [r["ticket"] for r in rows] == ["INC-6", "INC-1", "INC-2", "INC-3", "INC-8", "INC-5", "INC-4"]
    inc2 = rows[2]
    assert inc2["customer"] == "ACME" and inc2["plan"] == "gold" and inc2["severity"] == "high" and inc2["state"] == "resolved"
    assert inc2["opened_at"] == "2026-11-03T09:00:00+00:00"  # exports are in UTC
    assert (inc2["first_response"], inc2["first_response_late_minutes"]) == ("missed", "30.0")
    assert (inc2["update_periods_met"], inc2["update_periods_total"], inc2["update_late_minutes_max"]) == ("0", "1", "330.0")
    assert (inc2["resolution"], inc2["resolution_late_minutes"]) == ("missed", "60.0")
    assert (inc2["minutes_to_acknowledge"], inc2["minutes_to_resolve"]) == ("90.0", "540.0")
    inc4 = rows[6]
    assert (inc4["first_response"], inc4["first_response_late_minutes"], inc4["resolved_at"]) == ("running", "", "")
    inc8 = rows[4]
    assert (inc8["resolution"], inc8["minutes_to_acknowledge"]) == ("no target", str(67 * 60.0))


def test_json_data() -> None:
    d = report_dict(nov_report())
    assert d["period"] == "2026-11" and d["total"]["tickets"] == 7
    assert d["total"]["first_response"] == {"met": 4, "total": 6, "percent": 66.7}
    assert d["groups"][0]["time_to_acknowledge"] == {"count": 3, "median_minutes": 30.0, "p90_minutes": 90.0}
    assert d["groups"][0]["breaches"][0] == {
        "ticket": "INC-1", "customer": "ACME", "plan": "gold", "severity": "high", "clock": "update", "update_period": 2,
        "due": "2026-11-02T12:00:00+00:00", "late_by_minutes": 60.0, "ongoing": False,
    }
    assert d["quota"][0]["state"] == "over"


# -- one ticket's deadlines --------------------------------------------------------------


def test_deadline_verdicts_met_missed_and_by_how_much() -> None:
    inc1 = hand_built()[0]
    v = deadline_verdicts(inc1.status, NOW)
    assert [(x.clock, x.period, x.outcome, x.margin) for x in v] == [
        ("first_response", None, "met", 30 * M),
        ("update", 1, "met", 30 * M),
        ("update", 2, "missed", 1 * H),
        ("update", 3, "met", timedelta(0)),
        ("resolution", None, "met", 1 * H),
    ]
    inc5 = hand_built()[4]
    v = deadline_verdicts(inc5.status, NOW)
    assert [(x.clock, x.outcome, x.margin) for x in v] == [
        ("first_response", "breached", 27 * H),
        ("update", "not_started", None),
        ("resolution", "breached", 20 * H),
    ]


def test_deadline_verdicts_running_paused_and_no_target() -> None:
    # Opened 10:00, responded 10:10, paused 10:40 (waiting on the customer).
    paused = ticket("INC-9", GOLD, "high", utc(11, 20, 10), [ev("responded", utc(11, 20, 10, 10)), ev("paused", utc(11, 20, 10, 40))], state="paused")
    v = deadline_verdicts(paused.status, NOW)
    # update period 1: 10:10 -> due 12:10, ended by the pause at 10:40: met, 1h30m early
    # resolution: 40m worked of 8h -> 7h20m left at the pause
    assert [(x.clock, x.outcome, x.margin) for x in v] == [
        ("first_response", "met", 50 * M),
        ("update", "met", 90 * M),
        ("update", "paused", None),
        ("resolution", "paused", 7 * H + 20 * M),
    ]
    inc8 = hand_built()[7]  # silver: no update, no resolution target
    assert [(x.clock, x.outcome) for x in deadline_verdicts(inc8.status, NOW)] == [
        ("first_response", "met"), ("update", "no_target"), ("resolution", "no_target")]
    running = hand_built()[3]  # INC-4, opened 11:40: first response due 12:40, 40m left
    v = deadline_verdicts(running.status, NOW)
    assert (v[0].outcome, v[0].margin, v[0].due) == ("running", 40 * M, utc(11, 20, 12, 40))


# -- the status board --------------------------------------------------------------------


def test_at_risk_rule() -> None:
    # under 30 minutes left, or under 25% of the target
    assert classify(29 * M, 8 * H) is Urgency.AT_RISK
    assert classify(30 * M, 1 * H) is Urgency.ON_TRACK  # 30m is not under 30m, and 50% is left
    assert classify(59 * M, 4 * H) is Urgency.AT_RISK  # 24.6% left
    assert classify(60 * M, 4 * H) is Urgency.ON_TRACK  # exactly 25%
    assert classify(-M, 4 * H) is Urgency.BREACHED
    assert classify(timedelta(0), None) is Urgency.AT_RISK


def test_status_board_order() -> None:
    tickets = hand_built() + [
        # first response due 12:20: 20m left, under the 30-minute floor -> at risk
        ticket("INC-9", GOLD, "high", utc(11, 20, 11, 20), assignee="U0RON"),
        # low: 4h target due 12:30, 30m left = 12.5% of the target -> at risk by share
        ticket("INC-10", GOLD, "low", utc(11, 20, 8, 30)),
        # paused with the first response met: no deadline running
        ticket("INC-11", GOLD, "high", utc(11, 20, 10), [ev("responded", utc(11, 20, 10, 10)), ev("paused", utc(11, 20, 10, 20))], state="paused"),
        # silver office hours: opened 09:25 Berlin, 4 business hours -> due 13:25 Berlin (12:25 UTC), 25m left
        ticket("INC-12", SILVER, "high", utc(11, 20, 8, 25)),
    ]
    board = status_board(tickets, NOW)
    assert [(r.ticket.key, r.urgency.value, r.headline.clock if r.headline else None) for r in board] == [
        ("INC-5", "breached", "first_response"),
        ("INC-9", "at_risk", "first_response"),  # due 12:20
        ("INC-12", "at_risk", "first_response"),  # due 12:25
        ("INC-10", "at_risk", "first_response"),  # due 12:30
        ("INC-4", "on_track", "first_response"),  # due 12:40
        ("INC-8", "no_deadline", None),  # responded to, and silver has no update or resolution target
        ("INC-11", "no_deadline", None),  # paused
    ]  # resolved tickets (INC-1, 2, 3, 6, 7) are not on the board
    inc5 = board[0]
    assert inc5.headline.late_by == 27 * H
    assert [(o.clock, o.urgency.value, o.late_by) for o in inc5.others] == [("resolution", "breached", 20 * H)]
    inc12 = board[2]
    assert inc12.headline.business_hours and inc12.headline.left == 25 * M
    assert board[1].ticket.assignee_id == "U0RON"


def test_json_breach_list_is_bounded(monkeypatch) -> None:
    """At any size the JSON stays a bounded document: the first breaches (earliest deadline) and how many there are."""
    import bot.exports

    report = nov_report()
    every = report_dict(report)["total"]
    assert every["breach_count"] == len(every["breaches"]) == 6
    monkeypatch.setattr(bot.exports, "BREACHES_LISTED", 2)
    capped = report_dict(report)["total"]
    assert capped["breach_count"] == 6 and capped["breaches"] == every["breaches"][:2]
