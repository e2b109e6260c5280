"""What the command line shows: the data behind `triage-bot policies` and `triage-bot sla timeline`
(printed as is with `--json`), and a report as plain text."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.views.blocks import human
from bot.views.manager import breach_text, report_filters
from rules.compliance import DurationStats, Rate, Report
from rules.durations import Duration, contract_text
from rules.notifications import escalation_horizon, notification_schedule
from rules.policy import PolicySet
from rules.policy_file import BEST_EFFORT, PLACEHOLDER
from rules.sla import evaluate


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _target_text(value: Duration | str | None, business: bool) -> str:
    """A target as written in the policy: business days stay business days."""
    if value == PLACEHOLDER:
        return "SET ME"
    if value == BEST_EFFORT:
        return "best effort"
    return contract_text(value, business) if isinstance(value, Duration) else "-"


def _minutes(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds() // 60)


def policies_data(policies: PolicySet) -> list[dict[str, Any]]:
    out = []
    for plan in policies.plans.values():
        limits = plan.spec.limits
        rows = []
        for sev in plan.severity_ids:
            t = plan.targets_for(sev)
            written = plan.spec.targets.get(t.applied_severity) if t.applied_severity else None
            business = not plan.policy.file.calendars[t.calendar_id].always_open
            rows.append(
                {
                    "severity": sev,
                    "applied_severity": t.applied_severity,
                    "calendar": t.calendar_id,
                    "first_response_minutes": _minutes(t.first_response),
                    "update_interval_minutes": _minutes(t.update_interval),
                    "resolution_minutes": _minutes(t.resolution),
                    "resolution_best_effort": t.resolution_best_effort,
                    "placeholder": t.placeholder,
                    # as the contract states them: "7 business days", "36 business hours", "30m"
                    "first_response_text": _target_text(written.first_response if written else None, business),
                    "update_interval_text": _target_text(written.update_interval if written else None, business),
                    "resolution_text": _target_text(written.resolution if written else None, business),
                }
            )
        out.append(
            {
                "plan": plan.id,
                "name": plan.spec.name,
                "vendor": plan.policy.file.vendor.id,
                "source": plan.policy.source,
                "calendar": plan.spec.calendar,
                "timezone": str(plan.timezone),
                "cases": {"max": limits.cases.max, "per": limits.cases.per},
                "contacts": {"max": limits.contacts.max, "min": limits.contacts.min, "note": limits.contacts.note},
                "channels": limits.channels,
                "priorities": [p.id for p in plan.priorities],
                "has_placeholders": plan.has_placeholders,
                "targets": rows,
            }
        )
    return out


def timeline_data(policies: PolicySet, plan_id: str, severity: str, opened_at: datetime) -> dict[str, Any]:
    plan = policies.plan(plan_id)
    plan.severity(severity)
    targets = plan.targets_for(severity)
    status = evaluate(plan, severity, opened_at, [], now=opened_at)
    fr, res = status.clocks["first_response"], status.clocks["resolution"]
    zone = plan.timezone

    def local(v: datetime | None) -> str | None:
        """The engine's UTC instants, shown in the plan's zone (with its offset)."""
        return _iso(v.astimezone(zone)) if v else None

    ladder = plan.notifications.escalation
    horizon = escalation_horizon(status, plan.notifications) or opened_at
    schedule = [n for n in notification_schedule(status, plan.notifications, horizon) if n.repeat == 0]
    repeat_of = {lvl.level: lvl.repeat_every for lvl in ladder}
    warnings = []
    if targets.placeholder:
        warnings.append(f"{plan.id}: the vendor publishes no targets; they are placeholders to set in your policy folder")
    if targets.applied_severity and targets.applied_severity != severity:
        warnings.append(f"{plan.id} publishes no target for {severity}; the targets of {targets.applied_severity} apply")
    if targets.applied_severity is None:
        warnings.append(f"{plan.id} publishes no target for {severity} or any less urgent severity: best effort")
    return {
        "plan": plan.id,
        "severity": severity,
        "applied_severity": targets.applied_severity,
        "opened_at": opened_at.isoformat(),
        "calendar": targets.calendar_id,
        "timezone": str(plan.timezone),
        "first_response_due": local(fr.due),
        "first_response_minutes": _minutes(targets.first_response),
        "resolution_due": local(res.due),
        "resolution_minutes": _minutes(targets.resolution),
        "resolution_best_effort": targets.resolution_best_effort,
        "update_interval_minutes": _minutes(targets.update_interval),
        "placeholder_targets": targets.placeholder,
        "reminders": [
            {"clock": n.clock, "at": local(n.at), "label": n.label, "deadline": local(n.due)} for n in schedule if n.kind == "reminder"
        ],
        "escalations": [
            {
                "clock": n.clock,
                "level": n.level,
                "notify": n.notify,
                "at": local(n.at),
                "repeat_every_minutes": _minutes(every.to_timedelta(timedelta(days=1))) if (every := repeat_of.get(n.level or 0)) else None,
            }
            for n in schedule
            if n.kind == "escalation"
        ],
        "warnings": warnings,
    }


def report_lines(report: Report) -> list[str]:
    """Plain text for the command line."""

    def rate(r: Rate) -> str:
        return "n/a" if r.percent is None else f"{r.percent:.0f}% ({r.met}/{r.total})"

    def durs(d: DurationStats) -> str:
        return "n/a" if d.count == 0 else f"median {human(d.median)}, p90 {human(d.p90)}"

    last = report.period.end_day - timedelta(days=1)
    scope = [f"SLA report {report.period.label}: tickets opened {report.period.first_day} to {last} (plan time zones)"]
    scope += report_filters(report, mrkdwn=False)
    out = [", ".join(scope), f"as of {report.now.isoformat(timespec='minutes')}", ""]
    if not report.tickets:
        out.append("no tickets in this period")
    for g in ([report.total] if report.tickets else []) + list(report.groups):
        if g.plan_id is None:
            head = f"All tickets ({g.tickets})"
        else:
            head = f"{g.plan_id} / {g.severity} ({g.tickets})"
        out += [
            head,
            f"  first response met  {rate(g.first_response)}",
            f"  updates met         {rate(g.update)}",
            f"  resolution met      {rate(g.resolution)}",
            f"  time to acknowledge {durs(g.acknowledge)}",
            f"  time to resolve     {durs(g.resolve)}",
        ]
        if g.plan_id is not None:
            for b in g.breaches:
                out.append(f"  breach              {breach_text(b)}")
        out.append("")
    if report.quota:
        out.append("Case quota")
        out += [f"  {q.describe()}" for q in report.quota]
    return out
