"""`triage-bot` command line: for people (tables) and for scripts (`--json`)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from bot.settings import Settings
from rules.durations import format_timedelta
from rules.policy import PolicyError, PolicySet, UnknownIdError, load_policies
from rules.sla import CLOCK_LABELS, evaluate, notification_schedule

EXIT_USAGE = 2


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _minutes(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds() // 60)


def parse_instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise CliError(f"--opened-at {text!r} is not an ISO 8601 instant (e.g. 2026-11-30T09:15:00+01:00)") from None
    if value.tzinfo is None:
        raise CliError(f"--opened-at {text!r} needs a UTC offset (e.g. +01:00 or Z)")
    return value


def _load(settings: Settings) -> PolicySet:
    try:
        return load_policies(settings.policy_dir)
    except PolicyError as e:
        raise CliError(str(e)) from None


# -- policies -----------------------------------------------------------------------


def _target_text(td: timedelta | None, best_effort: bool, placeholder: bool) -> str:
    if placeholder:
        return "SET ME"
    if td is None:
        return "best effort" if best_effort else "-"
    return format_timedelta(td)


def policies_data(policies: PolicySet) -> list[dict[str, Any]]:
    out = []
    for plan in policies.plans.values():
        limits = plan.spec.limits
        rows = []
        for sev in plan.severity_ids:
            t = plan.targets_for(sev)
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


def cmd_policies(args: argparse.Namespace, settings: Settings) -> int:
    policies = _load(settings)
    data = policies_data(policies)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for plan in data:
        cases = f"{plan['cases']['max']} cases/{plan['cases']['per']}" if plan["cases"]["max"] else "unlimited cases"
        contacts = f"{plan['contacts']['max']} contacts" if plan["contacts"]["max"] else "any contact"
        print(f"{plan['plan']}  ({plan['name']}; {plan['calendar']}, {plan['timezone']}; {cases}; {contacts})")
        print(f"  {'severity':<22}{'applies':<22}{'calendar':<16}{'first response':<16}{'update':<10}{'resolution':<12}")
        for row in plan["targets"]:
            t = policies.plan(plan["plan"]).targets_for(row["severity"])
            applies = row["applied_severity"] or "(none)"
            print(
                f"  {row['severity']:<22}{applies:<22}{row['calendar']:<16}"
                f"{_target_text(t.first_response, False, t.placeholder):<16}"
                f"{_target_text(t.update_interval, False, t.placeholder):<10}"
                f"{_target_text(t.resolution, t.resolution_best_effort, t.placeholder):<12}"
            )
        if plan["has_placeholders"]:
            print("  ! targets not published by the vendor: set them in a copy of this policy in POLICY_DIR")
        print()
    return 0


# -- sla timeline -------------------------------------------------------------------


def timeline_data(policies: PolicySet, plan_id: str, severity: str, opened_at: datetime) -> dict[str, Any]:
    try:
        plan = policies.plan(plan_id)
        plan.severity(severity)
    except UnknownIdError as e:
        raise CliError(str(e)) from None
    targets = plan.targets_for(severity)
    status = evaluate(plan, severity, opened_at, [], now=opened_at)
    fr, res = status.clocks["first_response"], status.clocks["resolution"]
    dues = [c.due for c in (fr, res) if c.due is not None]
    ladder = plan.notifications.escalation
    last_after = ladder[-1].after.to_timedelta(timedelta(days=1)) if ladder else timedelta(0)
    horizon = max(dues) + last_after if dues else opened_at
    schedule = [n for n in notification_schedule(status, plan.notifications, horizon) if n.repeat == 0]
    repeat_of = {lvl.level: lvl.repeat_every for lvl in ladder}
    warnings = []
    if targets.placeholder:
        warnings.append(
            f"{plan.id}: the vendor publishes no targets; they are placeholders to set in your policy folder"
        )
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
        "first_response_due": _iso(fr.due),
        "first_response_minutes": _minutes(targets.first_response),
        "resolution_due": _iso(res.due),
        "resolution_minutes": _minutes(targets.resolution),
        "resolution_best_effort": targets.resolution_best_effort,
        "update_interval_minutes": _minutes(targets.update_interval),
        "placeholder_targets": targets.placeholder,
        "reminders": [
            {"clock": n.clock, "at": n.at.isoformat(), "label": n.label, "deadline": n.due.isoformat()}
            for n in schedule
            if n.kind == "reminder"
        ],
        "escalations": [
            {
                "clock": n.clock,
                "level": n.level,
                "notify": n.notify,
                "at": n.at.isoformat(),
                "repeat_every_minutes": _minutes(repeat_of[n.level].to_timedelta(timedelta(days=1)))
                if repeat_of.get(n.level or 0)
                else None,
            }
            for n in schedule
            if n.kind == "escalation"
        ],
        "warnings": warnings,
    }


def cmd_timeline(args: argparse.Namespace, settings: Settings) -> int:
    opened_at = parse_instant(args.opened_at)
    data = timeline_data(_load(settings), args.plan, args.severity, opened_at)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    tz = ZoneInfo(data["timezone"])

    def local(iso: str | None) -> str:
        return datetime.fromisoformat(iso).astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z") if iso else "-"

    applied = data["applied_severity"]
    print(f"{data['plan']} / {data['severity']}" + (f" (targets of {applied})" if applied != data["severity"] else ""))
    print(f"  calendar            {data['calendar']} ({data['timezone']})")
    print(f"  opened              {local(data['opened_at'])}")
    print(f"  first response due  {local(data['first_response_due'])}")
    upd = data["update_interval_minutes"]
    print(f"  updates             {'every ' + format_timedelta(timedelta(minutes=upd)) + ' after the first response' if upd else '-'}")
    res = local(data["resolution_due"]) if data["resolution_due"] else ("best effort" if data["resolution_best_effort"] else "-")
    print(f"  resolution due      {res}")
    for r in data["reminders"]:
        print(f"  reminder            {local(r['at'])}  {CLOCK_LABELS[r['clock']]} at {r['label']}")
    for e in data["escalations"]:
        rep = f", repeats every {format_timedelta(timedelta(minutes=e['repeat_every_minutes']))}" if e["repeat_every_minutes"] else ""
        print(f"  escalation L{e['level']}       {local(e['at'])}  {CLOCK_LABELS[e['clock']]} breached: {e['notify']}{rep}")
    for w in data["warnings"]:
        print(f"  ! {w}")
    return 0


# -- entry point --------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="triage-bot", description="Incident intake and SLA clocks for Slack.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("policies", help="list the loaded plans and their targets")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.set_defaults(func=cmd_policies)

    sla = sub.add_parser("sla", help="SLA calculations")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True)
    t = sla_sub.add_parser("timeline", help="deadlines, reminders and escalations of a new ticket")
    t.add_argument("--plan", required=True)
    t.add_argument("--severity", required=True)
    t.add_argument("--opened-at", required=True, help="ISO 8601 instant with offset, e.g. 2026-11-30T09:15:00+01:00")
    t.add_argument("--json", action="store_true", help="print JSON for scripts")
    t.set_defaults(func=cmd_timeline)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
        return int(args.func(args, settings) or 0)
    except CliError as e:
        print(f"triage-bot: error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
