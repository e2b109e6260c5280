"""Ticket actions as `/sla` subcommands, for people who prefer typing to buttons: same checks, same log."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from bot.delivery import Delivery
from bot.roles import Role
from bot.services import Services, record_action
from handlers.dedupe import once
from handlers.middleware import require
from handlers.responders import owed_posts, publish
from handlers.sla_command import SlaCommand, SlaRequest
from rules.actions import BY_COMMAND
from rules.durations import Duration
from rules.errors import InvalidInput

log = logging.getLogger(__name__)
_USER = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
NEXT_UPDATE_MAX = timedelta(days=30)  # `next=`: a promise further out is not an update interval

USAGE = {  # per command of rules.actions; resume and reopen are listed with pause and resolve
    "ack": ["`/sla ack INC-42` (first response)"],
    "update": ["`/sla update INC-42 [next=30m] what changed`"],
    "assign": ["`/sla assign INC-42 @user`"],
    "reclassify": ["`/sla reclassify INC-42 [severity=ID] [priority=ID] reason` (one or both)"],
    "pause": ["`/sla pause INC-42 what we wait for`", "`/sla resume INC-42`"],
    "resolve": ["`/sla resolve INC-42 resolution note`", "`/sla reopen INC-42`"],
}


def _key_and_rest(req: SlaRequest) -> tuple[str, list[str]]:
    if not req.args:
        raise InvalidInput(f"which ticket? `/sla {req.subcommand} INC-42 …`")
    return req.args[0], req.args[1:]


def parse(req: SlaRequest, services: Services) -> tuple[str, str, dict]:
    """-> (ticket key, event kind, record_action keyword arguments); the kind is the command's row in rules.actions."""
    key, rest = _key_and_rest(req)
    act = BY_COMMAND.get(req.subcommand)
    if act is None:
        raise InvalidInput(f"unknown ticket command {req.subcommand!r}")
    if act.kind == "assigned":
        m = _USER.match(rest[0]) if len(rest) == 1 else None
        if not m:
            raise InvalidInput("assign to one person: `/sla assign INC-42 @user`")
        return key, act.kind, {"data": {"assignee": m.group(1)}}
    if act.kind == "updated":
        next_at = None
        if rest and rest[0].startswith("next="):
            try:
                span = Duration.parse(rest[0][5:]).to_timedelta(timedelta(days=1))
            except ValueError as e:
                raise InvalidInput(f"{rest[0]!r}: {e}") from None
            except OverflowError:
                span = NEXT_UPDATE_MAX + NEXT_UPDATE_MAX
            if not timedelta(minutes=1) <= span <= NEXT_UPDATE_MAX:
                raise InvalidInput(
                    f"{rest[0]!r}: the next update is from 1m to {NEXT_UPDATE_MAX.days}d away, e.g. next=30m, next=4h, next=2d"
                )
            next_at = services.clock.now() + span
            rest = rest[1:]
        if not rest:
            raise InvalidInput("write the update: `/sla update INC-42 next=30m rolled back the deploy`")
        return key, act.kind, {"data": {"text": " ".join(rest)}, "next_update_at": next_at}
    if act.kind == "reclassified":
        fields: dict = {}
        words = []
        for word in rest:
            if word.startswith("severity="):
                fields["severity"] = word[9:]
            elif word.startswith("priority="):
                fields["priority"] = word[9:]
            else:
                words.append(word)
        fields["reason"] = " ".join(words)
        return key, act.kind, fields
    if act.asks_reason:
        if not rest:
            raise InvalidInput("say why: " + USAGE[act.command or ""][0])
        return key, act.kind, {"reason": " ".join(rest)}
    if rest:
        raise InvalidInput(f"`/sla {req.subcommand}` takes only the ticket id")
    return key, act.kind, {}


REFUSAL = "Only responders can work tickets. Ask a triage-bot admin to add you to the responder group."


def register(sla: SlaCommand, services: Services, delivery: Delivery) -> None:
    async def run(req: SlaRequest) -> None:
        key, kind, fields = parse(req, services)
        result = await record_action(services, key, kind, req.user_id, posts=owed_posts(req.user_id), **fields)
        note = await publish(req.client, services, delivery, result)
        await req.reply(f"Done: {result.ticket.key} {kind}." + (f"\n{note}" if note else ""))

    responders_only = [require(Role.RESPONDER, REFUSAL), once()]  # an action: a re-sent command is done once
    for name in BY_COMMAND:
        sla.add(name, run, USAGE.get(name, []), middleware=responders_only)
