"""`triage-bot customers` and `triage-bot contacts`: which channel is which customer on which plan, and who may open cases."""

from __future__ import annotations

import argparse
import json

from bot.cli.common import plural, slack_id, with_services
from bot.settings import Settings
from rules.errors import InvalidInput


def cmd_customers_add(args: argparse.Namespace, settings: Settings) -> int:
    channel = slack_id("channel", args.channel, "--channel")
    triage = slack_id("channel", args.triage_channel, "--triage-channel") if args.triage_channel else None
    c = with_services(settings, lambda s: s.add_customer(args.name, channel, args.plan, triage))
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
    customers = with_services(settings, lambda s: s.list_customers())
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
    with_services(settings, lambda s: s.add_contact(args.customer, user, args.primary))
    print(f"{user} can now open cases for {args.customer}")
    return 0


def cmd_contacts_remove(args: argparse.Namespace, settings: Settings) -> int:
    user = slack_id("user", args.user, "--user")
    c = with_services(settings, lambda s: s.remove_contact(args.customer, user))
    print(f"{user} is no longer a contact of {c.name} ({plural(len(c.contacts), 'contact')} left)")
    return 0


def cmd_customers_update(args: argparse.Namespace, settings: Settings) -> int:
    channel = slack_id("channel", args.channel, "--channel") if args.channel else None
    triage = slack_id("channel", args.triage_channel, "--triage-channel") if args.triage_channel else None
    if not (args.plan or channel or triage or args.no_triage_channel):
        raise InvalidInput("say what to change: --plan, --channel, --triage-channel or --no-triage-channel")
    c = with_services(
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
    c = with_services(settings, lambda s: s.remove_customer(args.name))
    print(f"removed customer {c.name!r}: reports in {c.channel_id} use DEFAULT_PLAN again")
    return 0


def register_customers(sub: argparse._SubParsersAction) -> None:
    """`customers add|update|remove|list`."""
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


def register_contacts(sub: argparse._SubParsersAction) -> None:
    """`contacts add|remove`."""
    cont = sub.add_parser("contacts", help="people allowed to open cases for a customer")
    cont_sub = cont.add_subparsers(dest="contacts_command", required=True)
    co = cont_sub.add_parser("add", help="register a contact")
    co.set_defaults(func=cmd_contacts_add)
    co.add_argument("--customer", required=True, help="customer name")
    co.add_argument("--user", required=True, help="Slack user id (U0123...)")
    co.add_argument("--primary", action="store_true")
    cor = cont_sub.add_parser("remove", help="remove a contact")
    cor.set_defaults(func=cmd_contacts_remove)
    cor.add_argument("--customer", required=True)
    cor.add_argument("--user", required=True, help="user id U0123ABC or <@U0123ABC>")
