"""The data behind the compliance chart (rules.chart_data): calendar buckets, verdict-only bars, per-ticket updates."""

from __future__ import annotations

from datetime import date, datetime, timezone

from bot.chart import compliance_chart_png, figure
from rules.chart_data import Bucket, ChartData, SeverityRow, chart_data, ticket_rates
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


def _crowded(buckets: int, big: int, met: float) -> ChartData:
    """Every bucket with large counts and the three series at the same height: the widest labels, side by side."""
    rates = {
        "first_response": Rate(int(big * met), big),
        "update": Rate(int((big - 1) * met), big - 1),
        "resolution": Rate(int(big * met), big),
    }
    start = date(2026, 10, 1)
    return ChartData(
        title="SLA compliance 2026-Q4",
        unit="week",
        buckets=tuple(Bucket(start, start, f"W{40 + i} Oct {i + 1}-{i + 7}", big, rates, big * 2 + i) for i in range(buckets)),
        severities=(SeverityRow("Business-critical system shutdown", big, rates, big),),
    )


def test_no_label_overlaps_another_or_leaves_the_chart() -> None:
    """Five- and six-digit counts: the bars' "met/total" stand upright when side by side would collide, the
    captions under the buckets get room, and nothing is drawn past the axes or the figure (measured)."""
    for buckets, big, met in ((6, 36_848, 0.0), (6, 36_848, 1.0), (14, 123_456, 0.5), (2, 9, 1.0)):
        fig = figure(_crowded(buckets, big, met))
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        top = fig.axes[0]
        bar_labels = [t for t in top.texts if "/" in t.get_text()]
        captions = [t for t in top.get_xticklabels() if t.get_text()]
        assert len(bar_labels) == 3 * buckets and len(captions) == buckets
        texts = bar_labels + captions
        boxes = [t.get_window_extent(renderer) for t in texts]
        for i, a in enumerate(boxes):
            for j in range(i + 1, len(boxes)):
                assert not a.overlaps(boxes[j]), (buckets, texts[i].get_text(), texts[j].get_text())
        axes_box, figure_box = top.get_window_extent(renderer), fig.bbox
        for t, box in zip(texts, boxes):
            assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1, t.get_text()
        for t in bar_labels:
            assert t.get_window_extent(renderer).y1 <= axes_box.y1, t.get_text()
