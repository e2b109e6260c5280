"""rules/compliance.py, rules/quota.py and bot/exports.py against a hand-built set of tickets
(tests/report_data.py) whose figures are worked out by hand there.

Periods are tests/test_periods.py, the status board tests/test_board.py.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

from bot.exports import CSV_COLUMNS, report_csv, report_dict
from rules.compliance import DurationStats, Rate, build_report, deadline_verdicts
from rules.periods import Period
from rules.quota import CustomerCases, quota_use
from tests.report_data import GOLD, NOW, PLANS, H, M, customers, ev, hand_built, nov_report, ticket, utc

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
    quarter = quota_use(
        [CustomerCases("ACME", GOLD, tuple(t.opened_at for t in hand_built() if t.customer == "ACME"))], Period(2026, 10, 3), NOW
    )
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
        "ticket": "INC-1",
        "customer": "ACME",
        "plan": "gold",
        "severity": "high",
        "clock": "update",
        "update_period": 2,
        "due": "2026-11-02T12:00:00+00:00",
        "late_by_minutes": 60.0,
        "ongoing": False,
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
    paused = ticket(
        "INC-9", GOLD, "high", utc(11, 20, 10), [ev("responded", utc(11, 20, 10, 10)), ev("paused", utc(11, 20, 10, 40))], state="paused"
    )
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
        ("first_response", "met"),
        ("update", "no_target"),
        ("resolution", "no_target"),
    ]
    running = hand_built()[3]  # INC-4, opened 11:40: first response due 12:40, 40m left
    v = deadline_verdicts(running.status, NOW)
    assert (v[0].outcome, v[0].margin, v[0].due) == ("running", 40 * M, utc(11, 20, 12, 40))


def test_json_breach_list_is_bounded(monkeypatch) -> None:
    """At any size the JSON stays a bounded document: the first breaches (earliest deadline) and how many there are."""
    import bot.exports

    report = nov_report()
    every = report_dict(report)["total"]
    assert every["breach_count"] == len(every["breaches"]) == 6
    monkeypatch.setattr(bot.exports, "BREACHES_LISTED", 2)
    capped = report_dict(report)["total"]
    assert capped["breach_count"] == 6 and capped["breaches"] == every["breaches"][:2]
