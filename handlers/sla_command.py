"""`/sla`: one bolt listener per subcommand, chosen by the first word(s) of the text.

Each module adds its subcommands with `SlaCommand.add(name, handler, usage, middleware=[...])`;
role checks are listener middleware (`handlers.middleware.require`), errors go to the one
error handler (`handlers.middleware.on_error`), so a handler only does its work:

- `customers`, `contacts`: handlers/admin.py (admins)
- `status`, `ticket`, `report`: handlers/managers.py (responders and managers; managers)
- `oncall`, `oncall set`: handlers/oncall.py (responders; managers)
- `ack`, `update`, `assign`, ...: handlers/ticket_commands.py (responders)

An empty, unknown or unreadable subcommand gets the usage of all of them.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.blocks import escape
from handlers.middleware import Middleware

log = logging.getLogger(__name__)

# Slack clients turn typed quotes into typographic ones; shlex needs the plain kind.
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"'})


@dataclass
class SlaRequest:
    """One `/sla` invocation, already split into words."""

    user_id: str
    channel_id: str
    subcommand: str
    args: list[str]  # the words after the subcommand
    text: str  # the whole text after `/sla`
    respond: Callable[..., Awaitable[Any]]
    client: AsyncWebClient
    body: dict[str, Any] = field(default_factory=dict)

    async def reply(self, text: str, blocks: Sequence[dict[str, Any]] | None = None) -> None:
        """An ephemeral answer to the person who ran the command."""
        await self.respond(text=text, blocks=list(blocks) if blocks else None, response_type="ephemeral", replace_original=False)


Subcommand = Callable[[SlaRequest], Awaitable[None]]


def _words(body: dict[str, Any]) -> list[str] | None:
    """The text after `/sla`, split as a shell would; None when its quotes do not pair up."""
    try:
        return shlex.split(_text(body))
    except ValueError:
        return None


def _text(body: dict[str, Any]) -> str:
    return (body.get("text") or "").translate(_QUOTES).strip()


def _request(body: dict[str, Any], respond: Callable[..., Awaitable[Any]], client: AsyncWebClient) -> SlaRequest:
    words = _words(body) or [""]
    return SlaRequest(
        user_id=body["user_id"],
        channel_id=body.get("channel_id", ""),
        subcommand=words[0].lower(),
        args=words[1:],
        text=_text(body),
        respond=respond,
        client=client,
        body=body,
    )


class SlaCommand:
    """The `/sla` subcommands, registered as bolt listeners by `register`."""

    def __init__(self) -> None:
        self.subcommands: dict[str, tuple[Subcommand, list[Middleware]]] = {}
        self.usages: dict[str, list[str]] = {}

    def add(self, name: str, handler: Subcommand, usage: Sequence[str], middleware: Sequence[Middleware] = ()) -> None:
        """`name` is one word, or several (`oncall set`) to give a longer form its own middleware."""
        if name in self.subcommands:
            raise ValueError(f"/sla {name} is registered twice")
        self.subcommands[name] = (handler, list(middleware))
        self.usages[name] = list(usage)

    @property
    def usage(self) -> str:
        lines = [line for name in self.subcommands for line in self.usages[name]]
        return "Usage:\n" + "\n".join(f"• {line}" for line in lines)

    def register(self, app: AsyncApp) -> None:
        # Longer names first, so `oncall set` is matched before `oncall`.
        for name in sorted(self.subcommands, key=lambda n: -len(n.split())):
            handler, middleware = self.subcommands[name]
            app.command("/sla", matchers=[_starts_with(name)], middleware=middleware)(_listener(handler))

        @app.command("/sla")
        async def sla_usage(ack, body, respond) -> None:  # anything no subcommand matched
            await ack()
            req = _request(body, respond, app.client)
            try:
                shlex.split(req.text)
            except ValueError as e:
                await req.reply(f":x: Could not read the command ({escape(str(e))}); check the quotes.\n{self.usage}")
                return
            if req.subcommand not in ("", "help"):
                await req.reply(f"Unknown subcommand `{escape(req.subcommand)}`.\n{self.usage}")
            else:
                await req.reply(self.usage)


def _starts_with(name: str) -> Callable[..., Awaitable[bool]]:
    expected = name.split()

    async def matches(body: dict[str, Any]) -> bool:
        words = _words(body)
        return words is not None and [w.lower() for w in words[: len(expected)]] == expected

    return matches


def _listener(handler: Subcommand) -> Callable[..., Awaitable[None]]:
    async def sla_subcommand(ack, body, respond, client: AsyncWebClient) -> None:
        await ack()
        await handler(_request(body, respond, client))

    return sla_subcommand
