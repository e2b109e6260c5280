"""What the `triage-bot` commands share: Slack ids and instants as people type them, the policies, and services for one command."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.settings import Settings
from rules.errors import InvalidInput
from rules.inputs import check_year
from rules.policy import PolicySet
from rules.policy_load import load_policies


def parse_instant(text: str, option: str = "--opened-at") -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{option} {text!r} is not an ISO 8601 instant (e.g. 2026-11-30T09:15:00+01:00)") from None
    if value.tzinfo is None:
        raise InvalidInput(f"{option} {text!r} needs a UTC offset (e.g. +01:00 or Z)")
    return check_year(value, option)


_ID_FORMS = {
    "channel": (
        re.compile(r"^(?:<#)?([CG][A-Z0-9]{2,})(?:\|[^>]*)?>?$"),
        "a channel id like C0123ABC (or <#C0123ABC|name>); a #name is not an id: copy it from the channel's details",
    ),
    "user": (
        re.compile(r"^(?:<@)?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$"),
        "a user id like U0123ABC (or <@U0123ABC>); a name is not an id: copy it from the person's profile (Copy member ID)",
    ),
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


def load_policy_files(settings: Settings) -> PolicySet:
    return load_policies(settings.policy_dir)  # a PolicyError is printed by main()


def with_services(settings: Settings, work) -> Any:
    import asyncio

    from bot.runner import migrate
    from bot.services import build_services

    async def go() -> Any:
        services = build_services(settings, policies=load_policy_files(settings))
        try:
            await migrate(settings, services)
            return await work(services)
        finally:
            await services.close()

    return asyncio.run(go())
