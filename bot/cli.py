"""`triage-bot` command line: for people (tables) and for scripts (`--json`). What it shows is built in bot.text."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import datetime, timedelta
from typing import Any, Sequence
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from bot.settings import Settings
from bot.text import policies_data, timeline_data
from rules.durations import format_timedelta
from rules.errors import ConfigError, InvalidInput, PeriodError, TriageError
from rules.oncall import parse_rotation_start
from rules.policy import PolicySet, load_policies
from rules.sla import CLOCK_LABELS

EXIT_USAGE = 2


def parse_instant(text: str, option: str = "--opened-at") -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{option} {text!r} is not an ISO 8601 instant (e.g. 2026-11-30T09:15:00+01:00)") from None
    if value.tzinfo is None:
        raise InvalidInput(f"{option} {text!r} needs a UTC offset (e.g. +01:00 or Z)")
    return value


_ID_FORMS = {
    "channel": (re.compile(r"^(?:<#)?([CG][A-Z0-9]{2,})(?:\|[^>]*)?>?$"), "a channel id like C0123ABC (or <#C0123ABC|name>); a #name is not an id: copy it from the channel's details"),
    "user": (re.compile(r"^(?:<@)?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$"), "a user id like U0123ABC (or <@U0123ABC>); a name is not an id: copy it from the person's profile (Copy member ID)"),
    "group": (re.compile(r"^(?:<!subteam\^)?(S[A-Z0-9]{2,})(?:\|[^>]*)?>?$"), "a user group id like S0123ABC (or <!subteam^S0123ABC>)"),
}


def slack_id(kind: str, text: str, option: str) -> str:
    """A Slack id from `C0123`, `<#C0123|name>`, `U0123`, `<@U0123>`, `S0123`; anything else is refused, saying what is valid."""
    pattern, valid = _ID_FORMS[kind]
    m = pattern.match(text.strip())
    if not m or (text.strip().startswith("<") != text.strip().endswith(">")):
        raise InvalidInput(f"{option} {text!r} is not {valid}")
    return m.group(1)


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 case`, `2 cases`."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def _load(settings: Settings) -> PolicySet:
    return load_policies(settings.policy_dir)  # a PolicyError is printed by main()


# -- policies -----------------------------------------------------------------------


def cmd_policies(args: argparse.Namespace, settings: Settings) -> int:
    policies = _load(settings)
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


# -- sla timeline -------------------------------------------------------------------


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


# -- bot, database, customers -------------------------------------------------------


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.logs import configure_logging
    from bot.runner import serve

    configure_logging(
        settings.log_level, settings.log_format,
        secrets=[settings.slack_bot_token or "", settings.slack_signing_secret or "", settings.slack_app_token or ""],
    )
    _load(settings)  # a bad policy file stops the start with its message
    try:
        asyncio.run(serve(settings))  # a StartupError is printed by main()
    except KeyboardInterrupt:
        pass
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio

    from bot.doctor import run_checks

    checks = asyncio.run(run_checks(settings))
    for check in checks:
        print(check.line())
    failed = [c for c in checks if not c.ok]
    print(f"{len(failed)} of {len(checks)} checks failed" if failed else f"all {len(checks)} checks passed")
    return 1 if failed else 0


def _with_services(settings: Settings, work) -> Any:
    import asyncio

    from bot.runner import migrate
    from bot.services import build_services

    async def go() -> Any:
        services = build_services(settings, policies=_load(settings))
        try:
            await migrate(settings, services)
            return await work(services)
        finally:
            await services.close()

    return asyncio.run(go())


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import current_revision

    rev = _with_services(settings, lambda services: current_revision(services.engine))
    print(f"database at revision {rev} ({_safe_url(settings.database_url)})")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_customers_add(args: argparse.Namespace, settings: Settings) -> int:
    channel = slack_id("channel", args.channel, "--channel")
    triage = slack_id("channel", args.triage_channel, "--triage-channel") if args.triage_channel else None
    c = _with_services(settings, lambda s: s.add_customer(args.name, channel, args.plan, triage))
    print(f"added customer {c.name!r}: channel {c.channel_id}, plan {c.plan_id}")
    for line in _join([c.channel_id] + ([c.triage_channel_id] if c.triage_channel_id else []), settings):
        print(line.replace("<#", "").replace(">", "").replace("`", ""))
    return 0


def _join(channel_ids: list[str], settings: Settings) -> list[str]:
    """Join the customer's channels with the bot token, when this shell has one (bot.channels)."""
    import asyncio

    from bot.app import build_slack_client
    from bot.channels import join_channels

    async def go() -> list[str]:
        client = build_slack_client(settings) if settings.slack_bot_token else None
        try:
            return await join_channels(client, channel_ids)
        finally:
            if client is not None and client.session is not None:
                await client.session.close()

    return asyncio.run(go())


def cmd_customers_list(args: argparse.Namespace, settings: Settings) -> int:
    customers = _with_services(settings, lambda s: s.list_customers())
    rows = [
        {
            "name": c.name,
            "channel": c.channel_id,
            "triage_channel": c.triage_channel_id,
            "plan": c.plan_id,
            "contacts": [{"user": k.slack_user_id, "primary": k.primary} for k in c.contacts],
        }
        for c in customers
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no customers yet: triage-bot customers add --name NAME --channel C0123 --plan PLAN")
    else:
        for r in rows:
            contacts = ", ".join(k["user"] + (" (primary)" if k["primary"] else "") for k in r["contacts"]) or "-"
            print(f"{r['name']:<30} {r['channel']:<12} {r['plan']:<32} contacts: {contacts}")
    return 0


def cmd_contacts_add(args: argparse.Namespace, settings: Settings) -> int:
    user = slack_id("user", args.user, "--user")
    _with_services(settings, lambda s: s.add_contact(args.customer, user, args.primary))
    print(f"{user} can now open cases for {args.customer}")
    return 0


def cmd_contacts_remove(args: argparse.Namespace, settings: Settings) -> int:
    user = slack_id("user", args.user, "--user")
    c = _with_services(settings, lambda s: s.remove_contact(args.customer, user))
    print(f"{user} is no longer a contact of {c.name} ({plural(len(c.contacts), 'contact')} left)")
    return 0


def cmd_customers_update(args: argparse.Namespace, settings: Settings) -> int:
    channel = slack_id("channel", args.channel, "--channel") if args.channel else None
    triage = slack_id("channel", args.triage_channel, "--triage-channel") if args.triage_channel else None
    if not (args.plan or channel or triage or args.no_triage_channel):
        raise InvalidInput("say what to change: --plan, --channel, --triage-channel or --no-triage-channel")
    c = _with_services(
        settings,
        lambda s: s.update_customer(
            args.name, plan_id=args.plan, channel_id=channel, triage_channel_id=triage, clear_triage=args.no_triage_channel
        ),
    )
    print(f"updated customer {c.name!r}: channel {c.channel_id}, plan {c.plan_id}, triage {c.triage_channel_id or '-'}")
    joined = [x for x in (channel, triage) if x]
    for line in _join(joined, settings) if joined else []:
        print(line.replace("<#", "").replace(">", "").replace("`", ""))
    return 0


def cmd_customers_remove(args: argparse.Namespace, settings: Settings) -> int:
    c = _with_services(settings, lambda s: s.remove_customer(args.name))
    print(f"removed customer {c.name!r}: reports in {c.channel_id} use DEFAULT_PLAN again")
    return 0


# -- report -------------------------------------------------------------------------


def _write(path: str, data: bytes | str, what: str) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
    except OSError as e:
        raise InvalidInput(f"cannot write the {what} to {path}: {e.strerror or e}") from None


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.exports import report_csv, report_dict
    from bot.services.reporting import build_period_report
    from rules.periods import parse_period

    async def work(services):
        now = services.clock.now()
        try:
            period = parse_period(args.period, now)
        except PeriodError as e:
            raise PeriodError(f"--period: {e}") from None
        report, loaded = await build_period_report(services, period, now, args.customer, args.plan)
        return report, loaded

    report, loaded = _with_services(settings, work)
    if args.csv:
        _write(args.csv, report_csv(report), "CSV")
    if args.chart and not args.chart.lower().endswith(".png"):
        raise InvalidInput(f"--chart {args.chart!r}: the chart is a PNG image; name the file *.png")
    if args.chart:
        from bot.chart import compliance_chart_png

        _write(args.chart, compliance_chart_png(report), "chart")
    if args.json:
        data = report_dict(report)
        data["skipped"] = loaded.skipped
        print(json.dumps(data, indent=2))
        return 0
    from bot.text import report_lines

    print("\n".join(report_lines(report)))
    for path, what in ((args.csv, "CSV"), (args.chart, "chart")):
        if path:
            print(f"{what} written to {path}")
    if loaded.skipped:
        print(f"! left out, their plan is no longer loaded: {', '.join(loaded.skipped)}")
    return 0


def cmd_oncall_show(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.oncall import known_roles
    from storage.oncall import all_oncall

    async def work(services):
        return known_roles(services), await all_oncall(services)

    roles, current = _with_services(settings, work)
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
            raise InvalidInput(f"--start {args.start!r}: write the first hand-off as 2026-12-07T09:00 (plan time) or with an offset") from None
        kwargs["rotation_days"] = args.every_days
    setting = _with_services(settings, lambda s: set_oncall(s, args.role, "cli", **kwargs))
    print(f"{args.role}: {setting.describe(_plan_tz(settings))}")
    return 0


def _plan_tz(settings: Settings) -> ZoneInfo:
    """The zone rotations are set and shown in: DEFAULT_PLAN's, as `/sla oncall` uses."""
    return _load(settings).plan(settings.default_plan).timezone


def cmd_oncall_clear(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.oncall import clear_oncall

    had = _with_services(settings, lambda s: clear_oncall(s, args.role))
    print(f"{args.role}: nobody on call now" + ("" if had else " (nobody was)"))
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

    r = sub.add_parser("run", help="run the bot (HTTP on PORT, or Socket Mode with SLACK_APP_TOKEN)")
    r.set_defaults(func=cmd_run)

    sub.add_parser("doctor", help="check the token, scopes, channels, policies, migrations and scheduler").set_defaults(func=cmd_doctor)
    db = sub.add_parser("db", help="database")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply migrations to DATABASE_URL").set_defaults(func=cmd_db_upgrade)

    cust = sub.add_parser("customers", help="map Slack channels to customers and their plans")
    cust_sub = cust.add_subparsers(dest="customers_command", required=True)
    ca = cust_sub.add_parser("add", help="add a customer")
    ca.add_argument("--name", required=True)
    ca.add_argument("--channel", required=True, help="Slack channel id where the customer reports (C0123...)")
    ca.add_argument("--plan", required=True, help="plan id (see `triage-bot policies`)")
    ca.add_argument("--triage-channel", help="channel id where its tickets are announced (default: --channel)")
    ca.set_defaults(func=cmd_customers_add)
    cu = cust_sub.add_parser("update", help="change a customer's plan, channel or triage channel")
    cu.add_argument("--name", required=True)
    cu.add_argument("--plan")
    cu.add_argument("--channel", help="channel id C0123ABC or <#C0123ABC|name>")
    cu.add_argument("--triage-channel", help="channel id where its tickets are announced")
    cu.add_argument("--no-triage-channel", action="store_true", help="announce in the customer's own channel again")
    cu.set_defaults(func=cmd_customers_update)
    cr = cust_sub.add_parser("remove", help="remove a customer (and its contacts) that has no tickets")
    cr.add_argument("--name", required=True)
    cr.set_defaults(func=cmd_customers_remove)
    cl = cust_sub.add_parser("list", help="list customers")
    cl.add_argument("--json", action="store_true")
    cl.set_defaults(func=cmd_customers_list)

    rep = sub.add_parser("report", help="SLA compliance per plan and severity, breaches and case quotas")
    rep.add_argument(
        "--period",
        default="this-month",
        help="this-month (default), last-month, this-quarter, last-quarter, YYYY-MM or YYYY-Qn; "
        "tickets count by their opening in their plan's time zone",
    )
    rep.add_argument("--customer", help="only this customer (name)")
    rep.add_argument("--plan", help="only this plan id")
    rep.add_argument("--csv", metavar="FILE", help="also write one row per ticket to FILE")
    rep.add_argument("--chart", metavar="FILE", help="also write the compliance-over-time chart (PNG) to FILE")
    rep.add_argument("--json", action="store_true", help="print JSON for scripts")
    rep.set_defaults(func=cmd_report)

    cont = sub.add_parser("contacts", help="people allowed to open cases for a customer")
    cont_sub = cont.add_subparsers(dest="contacts_command", required=True)
    co = cont_sub.add_parser("add", help="register a contact")
    co.add_argument("--customer", required=True, help="customer name")
    co.add_argument("--user", required=True, help="Slack user id (U0123...)")
    co.add_argument("--primary", action="store_true")
    co.set_defaults(func=cmd_contacts_add)
    cor = cont_sub.add_parser("remove", help="remove a contact")
    cor.add_argument("--customer", required=True)
    cor.add_argument("--user", required=True, help="user id U0123ABC or <@U0123ABC>")
    cor.set_defaults(func=cmd_contacts_remove)

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
    ose.add_argument("--start", help="first hand-off in plan time, e.g. 2026-12-07T09:00 (or with an offset); hand-offs keep this local time")
    ose.add_argument("--every-days", type=int, default=7)
    ose.set_defaults(func=cmd_oncall_set)
    ocl = oc_sub.add_parser("clear", help="nobody on call for a role")
    ocl.add_argument("role")
    ocl.set_defaults(func=cmd_oncall_clear)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except BrokenPipeError:
        # `triage-bot policies --json | head`: the reader left; say nothing more (Python's documented recipe).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _main(args: argparse.Namespace) -> int:
    try:
        try:
            settings = Settings()
        except ValidationError as e:  # every bad setting, one line each
            raise ConfigError(
                "\n".join(f"setting {str(err['loc'][0]).upper()}: {err['msg']}" for err in e.errors())
            ) from None
        return int(args.func(args, settings) or 0)
    except TriageError as e:
        print(f"triage-bot: error: {e}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
