"""Fuzz every listener through signed HTTP against the running bot and the stand-in (hypothesis, bounded, derandomized).

Every `/sla` subcommand and `/incident`, every button, every modal callback, the report shortcut, app_mention,
thread replies and app_home_opened get generated text and values: Slack-looking mentions (`<!channel>`, `<@U…>`,
`@here`), unicode, superscript digits, huge numbers, empty strings. A last group breaks the shapes of valid payloads.

    every request is answered: 200 (acked), or 400 for a malformed one (handlers/payloads.py); a well-formed request
        no listener takes gets bolt's immediate 404, never the one after 3 s without an ack (bolt logs "didn't call ack()")
    nothing fails unexpectedly: no log record with a stack (the person would read "Something went wrong")
    nothing the bot sent to Slack carries a mention someone typed: `<!channel>`, `<!here>`, `<!everyone>`, or the typed
        `<@U0TYPED>` / `<!subteam^S0TYPED>` (bare `@channel` only pings with `link_names`, which the bot never sets)

Hypothesis runs in a worker thread; each example runs on the bot's event loop and waits for the tasks it started.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from typing import Any, Awaitable, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services import record_action
from tests.fuzz_strategies import (
    ACTION_IDS,
    ADMIN,
    BLOCKS,
    CALLBACKS,
    COMMAND_GROUPS,
    MANAGER,
    RESPONDER,
    button_values,
    event_kinds,
    free_text,
    home_tabs,
    json_values,
    mutated,
    paths,
    private_metadata,
    sla_text,
    staff,
    users,
    view_states,
)
from tests.helpers import CHANNEL, REPORTER, announced_ticket, mrkdwn_texts, open_step1, report, setup_workspace

RAW_MENTION = re.compile(r"<!(?:channel|here|everyone)\b|<@U0TYPED|<!subteam\^S0TYPED")

INPUTS = [
    {
        "type": "input",
        "block_id": b,
        "label": {"type": "plain_text", "text": b},
        "element": {"type": "plain_text_input", "action_id": "value"},
    }
    for b in BLOCKS
]  # every input a modal has (errors name one)
# FUZZ_HUNT=N: random seeds and N times the examples, to look for new failures (README, Development). Without it
# the examples are the same on every run: CI's verdict never depends on the luck of a draw.
HUNT = int(os.environ.get("FUZZ_HUNT") or 0)
FUZZ = settings(deadline=None, derandomize=not HUNT, database=None, suppress_health_check=list(HealthCheck))


# -- the world every example meets ---------------------------------------------------------------


async def world(bot) -> dict[str, Any]:
    """A workspace with a responder, a manager and an admin, one announced ticket (INC-1), and a step-1 draft."""
    setup_workspace(bot)
    for uid, name in ((RESPONDER, "ron"), (MANAGER, "maria"), (ADMIN, "ada"), ("U0LEGIT", "lee")):
        bot.slack.add_user(uid, name)
    bot.services.settings.responder_user_ids = RESPONDER
    bot.services.settings.manager_user_ids = MANAGER
    await report(bot)
    ticket = await announced_ticket(bot)
    step1 = await open_step1(bot, "Checkout is down")
    return {"ticket": ticket, "step1": step1}


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def posted_texts(calls: list) -> list[str]:
    """What the bot sent to Slack that Slack parses for mentions: message text (and mrkdwn blocks), view mrkdwn."""
    texts = []
    for call in calls:
        params = call.params if isinstance(call.params, dict) else {}
        assert not params.get("link_names"), call.method  # would make a typed bare @channel a broadcast
        if call.method.startswith("chat.") or "initial_comment" in params:
            texts += [str(params.get("text") or ""), str(params.get("initial_comment") or "")]
        for key in ("blocks", "attachments", "view"):
            value = params.get(key)
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    continue
            texts += mrkdwn_texts(value)
    return texts


async def answered(bot, log: Recorder, send: Callable[[], Awaitable[Any]], malformed: bool = False) -> None:
    """Send one request, let the work it started finish, and check the answer, the log and what was posted."""
    calls, posts, records = len(bot.slack.calls), len(bot.slack.response_posts), len(log.records)
    before = asyncio.all_tasks()
    r = await send()
    started = asyncio.all_tasks() - before - {asyncio.current_task()}
    if started:
        await asyncio.wait(started, timeout=60)
    new_records = log.records[records:]
    assert not [x.getMessage() for x in new_records if "didn't call ack()" in x.getMessage()], "a listener never acked"
    failures = [f"{x.name}: {x.getMessage()}" for x in new_records if x.exc_info or x.levelno >= logging.ERROR]
    assert not failures, failures
    if malformed:
        assert r.status in (200, 400) or (r.status == 404 and r.json == {"error": "unhandled request"}), (r.status, r.text)
    else:
        assert r.status == 200, (r.status, r.text)
    texts = posted_texts(bot.slack.calls[calls:]) + [
        t for p in bot.slack.response_posts[posts:] for t in [str(p.body.get("text") or ""), *mrkdwn_texts(p.body.get("blocks"))]
    ]
    leaked = [t for t in texts if RAW_MENTION.search(t)]
    assert not leaked, leaked


async def fuzz(bot, run_example: Callable[..., Awaitable[None]], examples: int = 50, **strategies: Any) -> None:
    """Run `run_example(**drawn)` for each example hypothesis draws, on this loop, from a worker thread."""
    loop = asyncio.get_running_loop()
    log = Recorder()
    logging.getLogger().addHandler(log)

    @settings(FUZZ, max_examples=examples * max(HUNT, 1))
    @given(**strategies)
    def example(**drawn: Any) -> None:
        asyncio.run_coroutine_threadsafe(run_example(log, **drawn), loop).result(timeout=120)

    try:
        await asyncio.to_thread(example)
    finally:
        logging.getLogger().removeHandler(log)


# -- the listener groups ---------------------------------------------------------------------------


@pytest.mark.parametrize("group", list(COMMAND_GROUPS))
async def test_fuzz_sla_commands(bot, group: str) -> None:
    await world(bot)

    async def run(log: Recorder, text: str, user: str) -> None:
        if (await bot.services.get_ticket("INC-1")).state == "resolved":  # so that every action has something to do
            await record_action(bot.services, "INC-1", "reopened", RESPONDER)
        await answered(bot, log, lambda: bot.sender.slash_command("/sla", text, user, CHANNEL))

    await fuzz(bot, run, examples=80, text=st.sampled_from(COMMAND_GROUPS[group]).flatmap(sla_text), user=staff)


async def test_fuzz_incident_command(bot) -> None:
    await world(bot)

    async def run(log: Recorder, text: str, user: str) -> None:
        await answered(bot, log, lambda: bot.sender.slash_command("/incident", text, user, CHANNEL))

    await fuzz(bot, run, text=free_text, user=users)


async def test_fuzz_buttons(bot) -> None:
    w = await world(bot)

    async def run(log: Recorder, action_id: str, value: str, user: str, in_thread: bool) -> None:
        where = {"channel_id": CHANNEL, "message_ts": w["ticket"].thread_ts} if in_thread else {}
        await answered(bot, log, lambda: bot.sender.block_action(action_id, user, value=value, **where))

    await fuzz(bot, run, action_id=st.sampled_from(ACTION_IDS), value=button_values, user=users, in_thread=st.booleans())


async def test_fuzz_modal_submissions(bot) -> None:
    w = await world(bot)

    async def run(log: Recorder, callback_id: str, values: dict, private_metadata: str, user: str, real_view: bool) -> None:
        view = {**w["step1"], "callback_id": callback_id, "private_metadata": private_metadata, "blocks": INPUTS}
        # The stand-in's copy of step 1 has step 1's inputs only, and once an example has moved it on to step 2,
        # Slack would never send a step 1 submission for it again.
        still_step1 = bot.slack.views.get(view["id"], {}).get("callback_id") == "incident_step1"
        if not (real_view and callback_id == "incident_step1" and still_step1):
            view.pop("id")
        await answered(bot, log, lambda: bot.sender.view_submission(view, user, values))

    await fuzz(
        bot,
        run,
        callback_id=st.sampled_from(CALLBACKS),
        values=view_states,
        private_metadata=private_metadata,
        user=users,
        real_view=st.booleans(),
    )


async def test_fuzz_shortcut_and_events(bot) -> None:
    w = await world(bot)

    async def run(log: Recorder, kind: str, text: str, user: str, tab: str) -> None:
        ticket = w["ticket"]
        if kind == "message_action":
            ts = bot.slack.add_message(CHANNEL, text, user=user).ts
            send = lambda: bot.sender.message_action("report_incident", user, CHANNEL, ts)  # noqa: E731
        elif kind == "shortcut":
            send = lambda: bot.sender.shortcut("report_incident", user)  # noqa: E731
        elif kind == "app_mention":
            send = lambda: bot.sender.app_mention(f"<@{bot.slack.bot_user_id}> {text}", user, CHANNEL)  # noqa: E731
        elif kind == "thread_reply":
            ts = f"{bot.clock.now().timestamp():.6f}"
            event = {"type": "message", "user": user, "text": text, "channel": CHANNEL, "ts": ts, "thread_ts": ticket.thread_ts}
            send = lambda: bot.sender.event(event)  # noqa: E731
        else:
            send = lambda: bot.sender.event({"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": tab})  # noqa: E731
        await answered(bot, log, send)

    await fuzz(bot, run, kind=event_kinds, text=free_text, user=users, tab=home_tabs)


async def test_fuzz_malformed_shapes(bot) -> None:
    w = await world(bot)
    sender, ticket, step1 = bot.sender, w["ticket"], w["step1"]
    user = {"id": RESPONDER, "username": "ron", "name": "ron", "team_id": sender.team_id}
    team = {"id": sender.team_id, "domain": sender.team_domain}
    bases: dict[str, Any] = {
        "command": {
            "command": "/sla",
            "text": "ack INC-1",
            "user_id": RESPONDER,
            "channel_id": CHANNEL,
            "team_id": sender.team_id,
            "trigger_id": "1.2.abc",
            "response_url": bot.slack.new_response_url(CHANNEL, RESPONDER),
        },
        "block_actions": {
            "type": "block_actions",
            "user": user,
            "team": team,
            "trigger_id": "1.2.abc",
            "channel": {"id": CHANNEL},
            "container": {"type": "message", "message_ts": ticket.thread_ts, "channel_id": CHANNEL},
            "actions": [{"action_id": "ticket_acknowledge", "block_id": "actions", "type": "button", "value": "INC-1"}],
        },
        "view_submission": {
            "type": "view_submission",
            "user": user,
            "team": team,
            "trigger_id": "1.2.abc",
            "view": {**step1, "state": {"values": {"summary": {"value": {"type": "plain_text_input", "value": "Down"}}}}},
        },
        "message_action": {
            "type": "message_action",
            "user": user,
            "team": team,
            "trigger_id": "1.2.abc",
            "callback_id": "report_incident",
            "channel": {"id": CHANNEL},
            "message_ts": "1.1",
            "message": {"type": "message", "text": "Down", "ts": "1.1"},
        },
        "event": sender.event_envelope({"type": "app_mention", "user": REPORTER, "text": "help", "ts": "1.1", "channel": CHANNEL}),
        "home": sender.event_envelope({"type": "app_home_opened", "user": RESPONDER, "channel": "D0HOME", "tab": "home"}),
    }
    choice = st.sampled_from(list(bases)).flatmap(
        lambda kind: st.tuples(st.just(kind), st.sampled_from(paths(bases[kind])), json_values, st.booleans())
    )

    async def run(log: Recorder, case: tuple) -> None:
        kind, path, value, delete = case
        body = mutated(bases[kind], path, value if kind != "command" else json.dumps(value), delete)
        if kind == "command":
            send = lambda: sender.send_form({k: str(v) for k, v in body.items()})  # noqa: E731
        elif kind in ("event", "home"):
            send = lambda: sender.send_json(body)  # noqa: E731
        else:
            send = lambda: sender.send_payload(body)  # noqa: E731
        await answered(bot, log, send, malformed=True)

    await fuzz(bot, run, case=choice)
