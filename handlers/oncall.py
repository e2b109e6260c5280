"""`/sla oncall`: who answers each escalation level; managers set it, the team can see it."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.roles import Role
from bot.services import Services
from bot.services.oncall import clear_oncall, known_roles, set_oncall
from handlers.middleware import require
from handlers.sla_command import SlaCommand, SlaRequest
from rules.errors import InvalidInput
from rules.inputs import parse_whole
from rules.oncall import ROTATION_DAYS_HELP, ROTATION_DAYS_MAX, parse_rotation_start
from storage.oncall import all_oncall

log = logging.getLogger(__name__)

_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_GROUP = re.compile(r"^<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>$")
USAGE = [
    "`/sla oncall` (who is on call for each escalation level)",
    "`/sla oncall set ROLE @user | @group | rotation @a @b @c [start=2026-12-07T09:00] [every=7]`",
    "`/sla oncall clear ROLE` (nobody on call for it)",
]


def parse_set(words: list[str], tz: ZoneInfo, now: datetime) -> tuple[str, dict]:
    """`ROLE target...` -> role and set_oncall keyword arguments."""
    if len(words) < 2:
        raise InvalidInput("say who: `/sla oncall set on-call @user` (or a @group, or `rotation @a @b`)")
    role, target, rest = words[0], words[1], words[2:]
    if target != "rotation":
        if rest:
            raise InvalidInput(f"unexpected {' '.join(rest)!r}: give one user or group, or a rotation")
        if m := _USER.match(target):
            return role, {"user_id": m.group(1)}
        if m := _GROUP.match(target):
            return role, {"group_id": m.group(1)}
        raise InvalidInput(f"{target!r} is not a user or user group: mention them as @name")
    users: list[str] = []
    start, every = now.astimezone(tz).replace(second=0, microsecond=0), 7
    for word in rest:
        if m := _USER.match(word):
            users.append(m.group(1))
        elif word.startswith("start="):
            try:
                start = parse_rotation_start(word[6:], tz)
            except ValueError:
                raise InvalidInput(f"{word!r}: write the first hand-off as start=2026-12-07T09:00 (plan time)") from None
        elif word.startswith("every="):
            every = parse_whole(word[6:].removesuffix("d"), 1, ROTATION_DAYS_MAX, f"{word!r}: {ROTATION_DAYS_HELP}")
        else:
            raise InvalidInput(f"{word!r} is not a user, start= or every=")
    if not users:
        raise InvalidInput("a rotation needs people: `rotation @a @b @c`")
    return role, {"rotation": users, "rotation_start": start, "rotation_days": every}


def register(sla: SlaCommand, services: Services) -> None:
    async def oncall_set(req: SlaRequest) -> None:
        tz = services.policies.plan(services.settings.default_plan).timezone
        now = services.clock.now()
        role, kwargs = parse_set(req.args[1:], tz, now)
        setting = await set_oncall(services, role, req.user_id, **kwargs)
        await req.reply(f"On call as *{role}*: {setting.describe(tz)}; now {setting.mention(tz, now)}.")

    async def oncall(req: SlaRequest) -> None:
        tz = services.policies.plan(services.settings.default_plan).timezone
        now = services.clock.now()
        if req.args and req.args[0] != "show":
            raise InvalidInput(f"unknown `/sla oncall {req.args[0]}`; use `/sla oncall` or `/sla oncall set ...`")
        settings = await all_oncall(services)
        lines = []
        for role in known_roles(services):
            s = settings.get(role)
            lines.append(
                f"• *{role}*: "
                + (f"{s.mention(tz, now)} ({s.describe(tz)})" if s else "_nobody set_: `/sla oncall set " + role + " @someone`")
            )
        await req.reply("Escalation on-call (times in " + str(tz) + "):\n" + "\n".join(lines))

    sla.add("oncall", oncall, USAGE, middleware=[require(Role.RESPONDER, "Only responders and managers can see the on-call list.")])
    sla.add("oncall set", oncall_set, [], middleware=[require(Role.MANAGER, "Only managers and admins can change who is on call.")])

    async def oncall_clear(req: SlaRequest) -> None:
        if len(req.args) != 2:
            raise InvalidInput("say which role: `/sla oncall clear ROLE`")
        had = await clear_oncall(services, req.args[1])
        await req.reply(f"Nobody is on call as *{req.args[1]}* now." + ("" if had else " (Nobody was.)"))

    sla.add("oncall clear", oncall_clear, [], middleware=[require(Role.MANAGER, "Only managers and admins can change who is on call.")])
