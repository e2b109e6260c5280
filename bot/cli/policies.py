"""`triage-bot policies` and `triage-bot sla timeline`: the loaded plans, and a new ticket's deadlines."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.cli.common import load_policy_files, parse_instant, plural
from bot.settings import Settings
from bot.text import policies_data, timeline_data
from rules.durations import format_timedelta
from rules.sla import CLOCK_LABELS


def cmd_policies(args: argparse.Namespace, settings: Settings) -> int:
    policies = load_policy_files(settings)
    data = policies_data(policies)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    for plan in data:
        cases = f"{plural(plan['cases']['max'], 'case')}/{plan['cases']['per']}" if plan["cases"]["max"] else "unlimited cases"
        contacts = plural(plan["contacts"]["max"], "contact") if plan["contacts"]["max"] else "any contact"
        print(f"{plan['plan']}  ({plan['name']}; {plan['calendar']}, {plan['timezone']}; {cases}; {contacts})")
        print(f"  {'severity':<22}{'applies':<22}{'calendar':<16}{'first response':<22}{'update':<22}{'resolution':<22}".rstrip())
        for row in plan["targets"]:
            applies = row["applied_severity"] or "(none)"
            print(
                f"  {row['severity']:<22}{applies:<22}{row['calendar']:<16}"
                f"{row['first_response_text']:<22}{row['update_interval_text']:<22}{row['resolution_text']:<22}".rstrip()
            )
        if plan["has_placeholders"]:
            print("  ! targets not published by the vendor: set them in a copy of this policy in POLICY_DIR")
        print()
    return 0


def cmd_timeline(args: argparse.Namespace, settings: Settings) -> int:
    opened_at = parse_instant(args.opened_at)
    data = timeline_data(load_policy_files(settings), args.plan, args.severity, opened_at)
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


def register(sub: argparse._SubParsersAction) -> None:
    """`policies` and `sla timeline`."""
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
