"""`triage-bot oncall show|set|clear`: who answers each escalation role."""

from __future__ import annotations

import argparse
import json
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.common import load_policy_files, slack_id, with_services
from bot.settings import Settings
from rules.errors import InvalidInput
from rules.oncall import parse_rotation_start


def cmd_oncall_show(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.oncall import known_roles
    from storage.oncall import all_oncall

    async def work(services):
        return known_roles(services), await all_oncall(services)

    roles, current = with_services(settings, work)
    tz = _plan_tz(settings)
    rows = []
    for role in roles:
        s = current.get(role)
        rows.append({"role": role, "setting": s.describe(tz) if s else None})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['role']:<14} {r['setting'] or '(nobody set)'}")
    return 0


def cmd_oncall_set(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.oncall import set_oncall

    kwargs: dict[str, Any] = {}
    if args.user:
        kwargs["user_id"] = slack_id("user", args.user, "--user")
    if args.group:
        kwargs["group_id"] = slack_id("group", args.group, "--group")
    if args.rotation:
        kwargs["rotation"] = [slack_id("user", u, "--rotation") for u in args.rotation.split(",") if u.strip()]
        if not args.start:
            raise InvalidInput("--rotation needs --start (the first hand-off, e.g. 2026-12-07T09:00 in plan time)")
        try:
            kwargs["rotation_start"] = parse_rotation_start(args.start, _plan_tz(settings))
        except ValueError:
            raise InvalidInput(
                f"--start {args.start!r}: write the first hand-off as 2026-12-07T09:00 (plan time) or with an offset"
            ) from None
        kwargs["rotation_days"] = args.every_days
    setting = with_services(settings, lambda s: set_oncall(s, args.role, "cli", **kwargs))
    print(f"{args.role}: {setting.describe(_plan_tz(settings))}")
    return 0


def _plan_tz(settings: Settings) -> ZoneInfo:
    """The zone rotations are set and shown in: DEFAULT_PLAN's, as `/sla oncall` uses."""
    return load_policy_files(settings).plan(settings.default_plan).timezone


def cmd_oncall_clear(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.oncall import clear_oncall

    had = with_services(settings, lambda s: clear_oncall(s, args.role))
    print(f"{args.role}: nobody on call now" + ("" if had else " (nobody was)"))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """`oncall show|set|clear`."""
    oc = sub.add_parser("oncall", help="who answers each escalation level")
    oc_sub = oc.add_subparsers(dest="oncall_command", required=True)
    osh = oc_sub.add_parser("show", help="list escalation roles and who is on call")
    osh.add_argument("--json", action="store_true")
    osh.set_defaults(func=cmd_oncall_show)
    ose = oc_sub.add_parser("set", help="set a user, a user group or a rotation for a role")
    ose.add_argument("role", help="escalation role from the policies: on-call, next-level, manager")
    who = ose.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="Slack user id")
    who.add_argument("--group", help="Slack user group id (S0...)")
    who.add_argument("--rotation", help="comma-separated Slack user ids, in hand-off order")
    ose.add_argument(
        "--start", help="first hand-off in plan time, e.g. 2026-12-07T09:00 (or with an offset); hand-offs keep this local time"
    )
    ose.add_argument("--every-days", type=int, default=7)
    ose.set_defaults(func=cmd_oncall_set)
    ocl = oc_sub.add_parser("clear", help="nobody on call for a role")
    ocl.add_argument("role")
    ocl.set_defaults(func=cmd_oncall_clear)
