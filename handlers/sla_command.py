"""The one `/sla` listener: it splits the text and hands it to a subcommand.

Subcommands live in `SlaCommand.subcommands`, a dict of name -> async function
taking an `SlaRequest`. Each module adds its own with `add()` and checks its own
roles server-side:

- `customers`, `contacts`: handlers/admin.py (admins)
- `status`, `ticket`: handlers/managers.py (responders and managers)
- `report`: handlers/managers.py (managers)
- `oncall`: to come; register it the same way (`sla.add("oncall", fn, usage=[...])`).

An empty or unknown subcommand gets the usage of all of them.
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Sequence

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.blocks import escape
from rules.errors import ServiceError

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


class SlaCommand:
    """The `/sla` dispatch table."""

    def __init__(self) -> None:
        self.subcommands: dict[str, Subcommand] = {}
        self.usages: dict[str, list[str]] = {}

    def add(self, name: str, handler: Subcommand, usage: Sequence[str]) -> None:
        if name in self.subcommands:
            raise ValueError(f"/sla {name} is registered twice")
        self.subcommands[name] = handler
        self.usages[name] = list(usage)

    @property
    def usage(self) -> str:
        lines = [line for name in self.subcommands for line in self.usages[name]]
        return "Usage:\n" + "\n".join(f"• {line}" for line in lines)

    async def dispatch(self, req: SlaRequest) -> None:
        handler = self.subcommands.get(req.subcommand)
        if handler is None:
            if req.subcommand not in ("", "help"):
                await req.reply(f"Unknown subcommand `{escape(req.subcommand)}`.\n{self.usage}")
            else:
                await req.reply(self.usage)
            return
        try:
            await handler(req)
        except ServiceError as e:
            await req.reply(f":x: {escape(str(e))}")
        except Exception:
            log.exception("/sla %s failed for %s", req.subcommand, req.user_id)
            await req.reply(f":warning: Something went wrong running `/sla {escape(req.subcommand)}`; it is logged. Try again, or tell an admin.")

    def register(self, app: AsyncApp) -> None:
        @app.command("/sla")
        async def sla_command(ack, body, respond, client: AsyncWebClient) -> None:
            await ack()
            text = (body.get("text") or "").translate(_QUOTES).strip()
            req = SlaRequest(
                user_id=body["user_id"],
                channel_id=body.get("channel_id", ""),
                subcommand="",
                args=[],
                text=text,
                respond=respond,
                client=client,
                body=body,
            )
            try:
                words = shlex.split(text)
            except ValueError as e:
                await req.reply(f":x: Could not read the command ({escape(str(e))}); check the quotes.\n{self.usage}")
                return
            if words:
                req.subcommand, req.args = words[0].lower(), words[1:]
            await self.dispatch(req)
