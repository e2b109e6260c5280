"""The data behind the compliance chart (rules.chart_data): calendar buckets, verdict-only bars, per-ticket updates."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.chart import compliance_chart_png
from rules.chart_data import chart_data, ticket_rates
from rules.compliance import Rate, build_report
from rules.periods import Period
from tests.test_reports import PLANS, customers, hand_built, nov_report


def test_iso_weeks_started_ones_only() -> None:
    data = chart_data(nov_report())  # as of Fri 20 Nov 2026: W48 (Nov 23-29) and W49 (Nov 30) have not started
    assert data.unit == "week"
    assert [b.label for b in data.buckets] == ["W44 Nov 1", "W45 Nov 2-8", "W46 Nov 9-15", "W47 Nov 16-22"]
    assert [(b.start.isoformat(), b.end.isoformat()) for b in data.buckets][:2] == [
        ("2026-11-01", "2026-11-02"),
        ("2026-11-02", "2026-11-09"),
    ]
    assert [b.tickets for b in data.buckets] == [1, 2, 2, 2]
    assert [b.breaches for b in data.buckets] == [0, 4, 0, 2]


def test_zero_is_a_verdict_and_nothing_judged_is_no_bar() -> None:
    w44, w45, w46, w47 = chart_data(nov_report()).buckets
    assert w47.rates["first_response"] == Rate(0, 1)  # 0%: drawn as a bar
    assert w46.rates["update"] == Rate(0, 0) and w46.rates["update"].percent is None  # no verdict: no bar
    assert w44.rates["first_response"] == Rate(1, 1)


def test_updates_count_tickets_not_periods() -> None:
    report = nov_report()
    high = report.groups[0]
    row = chart_data(report).severities[0]
    assert row.label == "gold: High" and row.tickets == high.tickets == 5
    assert high.update == Rate(3, 5)  # the report counts update periods
    assert row.rates["update"] == Rate(1, 3)  # the chart: tickets whose every update was on time
    for o in report.outcomes:
        r = ticket_rates(o)["update"]
        assert r.total == (1 if o.update.total else 0) and r.met == int(o.update.total > 0 and o.update.met == o.update.total)
    assert row.breaches == len(high.breaches)


def test_days_when_the_period_so_far_is_short() -> None:
    now = datetime(2026, 11, 5, 12, 0, tzinfo=timezone.utc)
    tickets = hand_built(datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc))
    data = chart_data(build_report(tickets, Period(2026, 11, 1), now, PLANS, customers(tickets)))
    assert data.unit == "day"
    assert [b.label for b in data.buckets] == ["Sun Nov 1", "Mon Nov 2", "Tue Nov 3", "Wed Nov 4", "Thu Nov 5"]


def test_quarter_png_is_drawn() -> None:
    now = datetime(2026, 12, 20, 12, 0, tzinfo=timezone.utc)
    tickets = hand_built(now)
    report = build_report(tickets, Period(2026, 10, 3), now, PLANS, customers(tickets))
    data = chart_data(report)
    assert [b.label for b in data.buckets][0] == "W40 Oct 1-4" and data.buckets[-1].label == "W51 Dec 14-20"
    assert "W49 Nov 30-Dec 6" in [b.label for b in data.buckets]
    assert compliance_chart_png(report).startswith(b"\x89PNG")
