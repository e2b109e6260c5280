"""Shared test helpers: drive the bot as Slack users do (slash commands, the report modal) and wait for its work."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from typing import Any, Callable, Iterator

REPORTER, CHANNEL = "U0REPORTER", "C0INCIDENT"


def free_port() -> int:
    """A local TCP port nothing listens on (for a bot, a cluster or a benchmark's app to take)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def busy_port() -> Iterator[int]:
    """A port something listens on for the duration (a start that needs it must refuse with one line)."""
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        yield int(busy.getsockname()[1])


async def stop_process(proc: asyncio.subprocess.Process, timeout: float = 20) -> None:
    """Stop a child process as an operator would: SIGTERM, and SIGKILL if it has not exited after `timeout` s
    (clean-up only, never an assertion). Shared by the process tests and the benchmarks."""
    if proc.returncode is None:
        try:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), timeout)
        except (asyncio.TimeoutError, ProcessLookupError):
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


REPORT_WAIT = 60.0  # seconds for a `/sla report` (a child process starts for it): a bound that fails loudly, not a margin


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Wait for work the bot does after its ack."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def radio(value: str) -> dict:
    return {"answer": {"type": "radio_buttons", "selected_option": {"value": value}}}


def select_value(value: str) -> dict:
    return {"value": {"type": "static_select", "selected_option": {"value": value}}}


async def sla(bot, text: str, user: str) -> str:
    """Run `/sla …` as `user` and return the bot's (ephemeral) reply."""
    n = len(bot.slack.response_posts)
    await bot.sender.slash_command("/sla", text, user, CHANNEL)
    await eventually(lambda: len(bot.slack.response_posts) > n)
    return bot.slack.response_posts[-1].body["text"]


async def ticket_with_responder(bot, responder: str = "U0RESPONDER"):
    """A reported ticket, announced, and `responder` (ron) allowed to act on it."""
    setup_workspace(bot)
    bot.slack.add_user(responder, "ron")
    bot.services.settings.responder_user_ids = responder
    await report(bot)
    return await announced_ticket(bot)


async def announced_ticket(bot, key: str = "INC-1"):
    """The ticket once its announcement is recorded (the post comes first, the record right after)."""
    for _ in range(250):
        ticket = await bot.services.get_ticket(key)
        if ticket.thread_ts:
            return ticket
        await asyncio.sleep(0.02)
    raise AssertionError(f"{key} was never announced")


def mrkdwn_texts(node: Any) -> list[str]:
    """Every mrkdwn text in blocks: where Slack parses <!channel> and <@U…> (plain_text shows them literally)."""
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    if isinstance(node, dict):
        own = [node["text"]] if node.get("type") == "mrkdwn" else []
        return own + [t for v in node.values() if isinstance(v, (list, dict)) for t in mrkdwn_texts(v)]
    return []


def setup_workspace(bot) -> None:
    bot.slack.add_channel(CHANNEL, "incidents")
    bot.slack.add_user(REPORTER, "rita", tz="Europe/Warsaw")


async def open_step1(bot, text: str = "") -> dict:
    n = len(bot.slack.calls_to("views.open"))
    r = await bot.sender.slash_command("/incident", text, REPORTER, CHANNEL)
    assert r.status == 200
    await eventually(lambda: len(bot.slack.calls_to("views.open")) > n)
    view = bot.slack.last_view()
    assert view["callback_id"] == "incident_step1"
    await draft_saved(bot, view["id"])
    return view


async def draft_saved(bot, view_id: str, user: str = REPORTER) -> None:
    """The bot keeps the draft just after the modal opens (a person never submits within those milliseconds)."""
    for _ in range(250):
        if await bot.services.get_draft(view_id, user) is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"no draft for view {view_id}")


async def submit_step1(bot, view: dict, summary: str, answers: dict[str, str], description: str = "") -> Any:
    values: dict[str, Any] = {"summary": {"value": summary}, "description": {"value": description}, "service": {"value": "checkout"}}
    for q, a in answers.items():
        values[f"q:{q}"] = radio(a)
    return await bot.sender.view_submission(view, REPORTER, values)


async def report(bot, summary: str = "Checkout is down", severity: str | None = None, reason: str = "") -> tuple[Any, dict]:
    view = await open_step1(bot, summary)
    r = await submit_step1(bot, view, summary, {"question_only": "no", "business_stopped": "yes", "important_functions_degraded": "no"})
    assert r.json["response_action"] == "update", r.json
    step2 = r.json["view"]
    step2["id"] = view["id"]
    values = {"severity": select_value(severity or "business-critical"), "priority": select_value("p1"), "reason": {"value": reason}}
    r2 = await bot.sender.view_submission(step2, REPORTER, values)
    return r2, step2
