"""A report as JSON-ready data and as CSV (`triage-bot report --json/--csv`, the `/sla report` file)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone
from typing import Any

from rules.compliance import Breach, DeadlineVerdict, DurationStats, GroupStats, Rate, Report

UTC = timezone.utc


def _minutes(td: timedelta | None) -> float | None:
    return None if td is None else round(td.total_seconds() / 60, 1)


def _iso(d: datetime | None) -> str | None:
    """Exports give every instant in UTC, so a column sorts and compares across plans' zones."""
    return d.astimezone(UTC).isoformat() if d else None


def _pct(rate: Rate) -> float | None:
    p = rate.percent
    return None if p is None else round(p, 1)


def _rate_dict(rate: Rate) -> dict[str, Any]:
    return {"met": rate.met, "total": rate.total, "percent": _pct(rate)}


def _durations_dict(d: DurationStats) -> dict[str, Any]:
    return {"count": d.count, "median_minutes": _minutes(d.median), "p90_minutes": _minutes(d.p90)}


BREACHES_LISTED = 200  # per group in --json: a bounded document at any size (breach_count says how many there are)


def _breach_dict(b: Breach) -> dict[str, Any]:
    return {
        "ticket": b.ticket,
        "customer": b.customer,
        "plan": b.plan_id,
        "severity": b.severity,
        "clock": b.clock,
        "update_period": b.period,
        "due": _iso(b.due),
        "late_by_minutes": _minutes(b.late_by),
        "ongoing": b.ongoing,
    }


def _group_dict(g: GroupStats) -> dict[str, Any]:
    return {
        "plan": g.plan_id,
        "severity": g.severity,
        "tickets": g.tickets,
        "first_response": _rate_dict(g.first_response),
        "update": _rate_dict(g.update),
        "resolution": _rate_dict(g.resolution),
        "time_to_acknowledge": _durations_dict(g.acknowledge),
        "time_to_resolve": _durations_dict(g.resolve),
        "breach_count": len(g.breaches),
        "breaches": [_breach_dict(b) for b in g.breaches[:BREACHES_LISTED]],  # earliest deadlines first; the CSV has all
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data (`triage-bot report --json`)."""
    return {
        "period": report.period.label,
        "period_start": report.period.first_day.isoformat(),
        "period_end": report.period.end_day.isoformat(),
        "period_time_zone": "each ticket's plan time zone",
        "as_of": _iso(report.now),
        "customer": report.customer,
        "plan": report.plan_id,
        "total": _group_dict(report.total),
        "groups": [_group_dict(g) for g in report.groups],
        "quota": [
            {
                "customer": q.customer,
                "plan": q.plan_id,
                "period": q.period_label,
                "used": q.used,
                "limit": q.limit,
                "state": q.state,
                "complete": q.complete,
                "text": q.describe(),
            }
            for q in report.quota
        ],
        "trend": [
            {
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "tickets": p.tickets,
                "first_response": _rate_dict(p.first_response),
                "update": _rate_dict(p.update),
                "resolution": _rate_dict(p.resolution),
            }
            for p in report.trend
        ],
    }


CSV_COLUMNS = [
    "ticket",
    "customer",
    "plan",
    "severity",
    "state",
    "within_plan",
    "opened_at",
    "first_response_due",
    "first_response_at",
    "first_response",
    "first_response_late_minutes",
    "update_periods_met",
    "update_periods_total",
    "update_late_minutes_max",
    "resolution_due",
    "resolved_at",
    "resolution",
    "resolution_late_minutes",
    "minutes_to_acknowledge",
    "minutes_to_resolve",
]


def _csv_outcome(v: DeadlineVerdict | None) -> str:
    if v is None:
        return ""
    return {"no_target": "no target", "not_started": "not started"}.get(v.outcome, v.outcome)


def report_csv(report: Report) -> str:
    """One row per ticket opened in the period; instants in ISO 8601, UTC; durations in minutes."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for t, o in zip(report.tickets, report.outcomes):
        fr = next(v for v in o.verdicts if v.clock == "first_response")
        res = next(v for v in o.verdicts if v.clock == "resolution")
        late_updates = [b.late_by for b in o.breaches if b.clock == "update"]

        def late(v: DeadlineVerdict) -> float | None:
            return _minutes(v.margin) if v.outcome in ("missed", "breached") else None

        w.writerow(
            [
                t.key,
                t.customer or "",
                t.plan_id,
                t.severity,
                t.state,
                "yes" if t.within_plan else "no",
                _iso(t.opened_at),
                _iso(fr.due) or "",
                _iso(t.status.clocks["first_response"].stopped_at) or "",
                _csv_outcome(fr),
                _blank(late(fr)),
                o.update.met,
                o.update.total,
                _blank(_minutes(max(late_updates)) if late_updates else None),
                _iso(res.due) or "",
                _iso(t.status.resolved_at) or "",
                _csv_outcome(res),
                _blank(late(res)),
                _blank(_minutes(o.time_to_acknowledge)),
                _blank(_minutes(o.time_to_resolve)),
            ]
        )
    return buf.getvalue()


def _blank(v: Any) -> Any:
    return "" if v is None else v
