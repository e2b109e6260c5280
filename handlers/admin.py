"""`/sla customers ...` and `/sla contacts ...`: customers and contacts (admins only, checked by `require`).

The `/sla` listener itself is handlers/sla_command.py; this module adds its subcommands to it.
"""

from __future__ import annotations

import logging
import re
import shlex

from slack_sdk.web.async_client import AsyncWebClient

from bot.channels import join_channels
from bot.roles import Role
from bot.services import Services
from bot.views.blocks import escape
from handlers.middleware import require
from handlers.sla_command import SlaCommand, SlaRequest
from rules.errors import InvalidInput

log = logging.getLogger(__name__)

_CHANNEL = re.compile(r"^<#(C[A-Z0-9]+|G[A-Z0-9]+)(\|[^>]*)?>$|^(C[A-Z0-9]+)$")
_USER = re.compile(r"^<@(U[A-Z0-9]+|W[A-Z0-9]+)(\|[^>]*)?>$|^(U[A-Z0-9]+|W[A-Z0-9]+)$")

USAGE_LINES = {
    "customers": [
        "`/sla customers list` (admins)",
        "`/sla customers add #channel PLAN-ID Customer name [triage=#channel]` (admins)",
        "`/sla customers update Customer name [plan=PLAN-ID] [channel=#channel] [triage=#channel|none]` (admins)",
        "`/sla customers remove Customer name` (admins)",
    ],
    "contacts": [
        "`/sla contacts add @user Customer name [primary]` (admins)",
        "`/sla contacts remove @user Customer name` (admins)",
    ],
}
REFUSAL = "Only triage-bot admins can manage customers and contacts (ask an admin to add you to ADMIN_USER_IDS)."
USAGE = "Usage:\n" + "\n".join(f"• {line}" for lines in USAGE_LINES.values() for line in lines)


def _channel(token: str) -> str:
    m = _CHANNEL.match(token)
    if not m:
        raise InvalidInput(f"{token!r} is not a channel: mention it as #channel")
    return m.group(1) or m.group(3)


def _user(token: str) -> str:
    m = _USER.match(token)
    if not m:
        raise InvalidInput(f"{token!r} is not a user: mention them as @name")
    return m.group(1) or m.group(3)


async def run_admin(services: Services, text: str, client: AsyncWebClient | None = None) -> str:
    """One `/sla` admin command, from an admin; returns the reply."""
    try:
        words = shlex.split(text)
    except ValueError as e:
        raise InvalidInput(f"could not read the command: {e}") from None
    if len(words) < 2 or words[0] not in ("customers", "contacts"):
        return USAGE
    if words[:2] == ["customers", "list"]:
        customers = await services.list_customers()
        if not customers:
            return "No customers yet. Add one with `/sla customers add #channel PLAN-ID Name`."
        return "\n".join(
            f"• *{escape(c.name)}*: <#{c.channel_id}>, plan `{c.plan_id}`"
            + (f", triage in <#{c.triage_channel_id}>" if c.triage_channel_id else "")
            + f", {len(c.contacts)} contact{'s' if len(c.contacts) != 1 else ''}"
            for c in customers
        )
    if words[:2] == ["customers", "add"]:
        rest = words[2:]
        triage = None
        if rest and rest[-1].startswith("triage="):
            triage = _channel(rest.pop()[len("triage=") :])
        if len(rest) < 3:
            return USAGE
        channel, plan_id, name = _channel(rest[0]), rest[1], " ".join(rest[2:])
        c = await services.add_customer(name, channel, plan_id, triage)
        joined = await join_channels(client, [c.channel_id] + ([c.triage_channel_id] if c.triage_channel_id else []))
        return "\n".join([f"Added *{escape(c.name)}* on `{c.plan_id}`: reports in <#{c.channel_id}> now use its plan.", *joined])
    if words[:2] == ["customers", "update"]:
        rest, changes = words[2:], {}
        while rest and re.match(r"^(plan|channel|triage)=", rest[-1]):
            key, _, value = rest.pop().partition("=")
            changes[key] = value
        if not rest or not changes:
            return USAGE
        name = " ".join(rest)
        triage = changes.get("triage")
        c = await services.update_customer(
            name,
            plan_id=changes.get("plan"),
            channel_id=_channel(changes["channel"]) if "channel" in changes else None,
            triage_channel_id=_channel(triage) if triage and triage != "none" else None,
            clear_triage=triage == "none",
        )
        joined = await join_channels(
            client,
            [
                x
                for x in (c.channel_id if "channel" in changes else None, c.triage_channel_id if triage and triage != "none" else None)
                if x
            ],
        )
        where = f", triage in <#{c.triage_channel_id}>" if c.triage_channel_id else ""
        return "\n".join([f"Updated *{escape(c.name)}*: <#{c.channel_id}>, plan `{c.plan_id}`{where}.", *joined])
    if words[:2] == ["customers", "remove"]:
        if len(words) < 3:
            return USAGE
        c = await services.remove_customer(" ".join(words[2:]))
        return f"Removed *{escape(c.name)}*: reports in <#{c.channel_id}> use the default plan again."
    if words[:2] == ["contacts", "remove"]:
        if len(words) < 4:
            return USAGE
        user, name = _user(words[2]), " ".join(words[3:])
        c = await services.remove_contact(name, user)
        left = len(c.contacts)
        return f"<@{user}> is no longer a contact of *{escape(c.name)}* ({left} contact{'s' if left != 1 else ''} left)."
    if words[:2] == ["contacts", "add"]:
        rest = words[2:]
        primary = bool(rest) and rest[-1] == "primary"
        if primary:
            rest.pop()
        if len(rest) < 2:
            return USAGE
        user, name = _user(rest[0]), " ".join(rest[1:])
        await services.add_contact(name, user, primary)
        return f"<@{user}> can now open cases for *{escape(name)}*."
    return USAGE


def register(sla: SlaCommand, services: Services) -> None:
    async def admin_subcommand(req: SlaRequest) -> None:
        await req.reply(await run_admin(services, req.text, req.client))

    for name, usage in USAGE_LINES.items():
        sla.add(name, admin_subcommand, usage, middleware=[require(Role.ADMIN, REFUSAL)])
