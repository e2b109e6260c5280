"""Repeated requests are done once: `/sla` ticket commands, the Acknowledge button and the update modal, re-sent with
X-Slack-Retry-Num 1-3 (a proxy, a Slack retry) or double-clicked, give one event and one post (signed HTTP)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.helpers import CHANNEL, eventually, ticket_with_responder

RESPONDER = "U0RESPONDER"


async def events(bot, kind: str) -> int:
    return [e.kind for e in (await bot.services.get_ticket("INC-1")).events].count(kind)


def thread_posts(bot, ticket, text: str) -> list:
    return [m for m in bot.slack.messages_in(CHANNEL, thread_ts=ticket.thread_ts) if text in (m.text or "")]


async def test_sla_update_resent_with_retry_num_is_one_update(bot) -> None:
    ticket = await ticket_with_responder(bot)
    r = await bot.sender.slash_command("/sla", "update INC-1 rolled back the deploy", RESPONDER, CHANNEL)
    assert r.status == 200
    for n in (1, 2, 3):
        assert (await bot.sender.resend(n)).status == 200
    await eventually(lambda: thread_posts(bot, ticket, "rolled back the deploy"))
    await eventually(lambda: [p for p in bot.slack.response_posts if "Done" in p.body.get("text", "")])
    assert await events(bot, "updated") == 1
    assert len(thread_posts(bot, ticket, "rolled back the deploy")) == 1
    # a new update later is not a repeat
    bot.clock.advance(timedelta(seconds=11))
    await bot.sender.slash_command("/sla", "update INC-1 rolled back the deploy", RESPONDER, CHANNEL)
    await eventually(lambda: len(thread_posts(bot, ticket, "rolled back the deploy")) == 2)
    assert await events(bot, "updated") == 2


async def test_sla_ack_resent_is_one_ack(bot) -> None:
    ticket = await ticket_with_responder(bot)
    await bot.sender.slash_command("/sla", "ack INC-1", RESPONDER, CHANNEL)
    for n in (1, 2, 3):
        await bot.sender.resend(n)
    await eventually(lambda: thread_posts(bot, ticket, "acknowledged INC-1"))
    assert await events(bot, "acknowledged") == 1
    assert len(thread_posts(bot, ticket, "acknowledged INC-1")) == 1
    assert not [p for p in bot.slack.response_posts if ":x:" in p.body.get("text", "")]  # repeats are silent


async def test_acknowledge_button_resent_and_double_clicked_is_one_ack(bot) -> None:
    ticket = await ticket_with_responder(bot)
    click = dict(value="INC-1", channel_id=CHANNEL, message_ts=ticket.thread_ts)
    await bot.sender.block_action("ticket_acknowledge", RESPONDER, **click)
    for n in (1, 2, 3):
        await bot.sender.resend(n)
    await bot.sender.block_action("ticket_acknowledge", RESPONDER, **click)  # a double click: a new request
    await eventually(lambda: thread_posts(bot, ticket, "acknowledged INC-1"))
    assert await events(bot, "acknowledged") == 1
    assert len(thread_posts(bot, ticket, "acknowledged INC-1")) == 1
    assert not [c for c in bot.slack.calls_to("chat.postEphemeral") if c.params.get("user") == RESPONDER]


async def test_update_modal_resent_is_one_update(bot) -> None:
    ticket = await ticket_with_responder(bot)
    await bot.sender.block_action("ticket_update", RESPONDER, value="INC-1", channel_id=CHANNEL, message_ts=ticket.thread_ts)
    view = await eventually(lambda: (v := bot.slack.last_view()) and v.get("callback_id") == "ticket_update_modal" and v)
    r = await bot.sender.view_submission(view, RESPONDER, {"text": {"value": "patched the config"}})
    assert r.status == 200
    for n in (1, 2, 3):
        assert (await bot.sender.resend(n)).status == 200
    await eventually(lambda: thread_posts(bot, ticket, "patched the config"))
    assert await events(bot, "updated") == 1
    assert len(thread_posts(bot, ticket, "patched the config")) == 1


async def test_a_failed_request_may_be_sent_again(bot) -> None:
    ticket = await ticket_with_responder(bot)
    await bot.sender.slash_command("/sla", "update INC-1 next=0m too soon", RESPONDER, CHANNEL)  # refused: not in the future
    await eventually(lambda: [p for p in bot.slack.response_posts if ":x:" in p.body.get("text", "")])
    await bot.sender.resend(1)  # the same text again is answered again, not dropped as a repeat
    await eventually(lambda: len([p for p in bot.slack.response_posts if ":x:" in p.body.get("text", "")]) == 2)
    assert await events(bot, "updated") == 0 and ticket.thread_ts


async def test_remembered_keys_are_forgotten_once_no_repeat_can_come(bot) -> None:
    """Event ids and request keys do not pile up for ever: past `PROCESSED_KEPT` (longer than any repeat window)
    each new key forgets up to `PRUNED_PER_CALL` expired ones; a key still within its window stays."""
    from sqlalchemy import func, select

    from handlers.dedupe import SUBMISSION_WINDOW
    from storage.models import ProcessedSlackEvent
    from storage.tickets import PROCESSED_KEPT, PRUNED_PER_CALL

    assert PROCESSED_KEPT > SUBMISSION_WINDOW
    ticket = await ticket_with_responder(bot)
    old = bot.clock.now()
    async with bot.services.sessions() as s:
        s.add_all(ProcessedSlackEvent(event_id=f"EvOLD{n}", received_at=old) for n in range(PRUNED_PER_CALL + 5))
        await s.commit()

    async def remembered() -> set[str]:
        async with bot.services.sessions() as s:
            return set((await s.execute(select(ProcessedSlackEvent.event_id))).scalars())

    async def old_left() -> int:
        async with bot.services.sessions() as s:
            return (await s.execute(select(func.count()).where(ProcessedSlackEvent.event_id.like("EvOLD%")))).scalar_one()

    bot.clock.advance(PROCESSED_KEPT - timedelta(minutes=1))
    r = await bot.sender.slash_command("/sla", "update INC-1 still on it", RESPONDER, CHANNEL)
    assert r.status == 200
    await eventually(lambda: thread_posts(bot, ticket, "still on it"))
    assert await old_left() == PRUNED_PER_CALL + 5  # not expired yet
    kept = await remembered()

    bot.clock.advance(timedelta(minutes=2))  # the old keys are now past PROCESSED_KEPT; the last request's is not
    reply = {
        "type": "message",
        "user": RESPONDER,
        "channel": CHANNEL,
        "text": "fixed",
        "ts": "1764490200.000300",
        "thread_ts": ticket.thread_ts,
    }
    assert (await bot.sender.event(reply, event_id="Ev0NEW1")).status == 200
    for _ in range(250):
        if "Ev0NEW1" in await remembered():
            break
        await asyncio.sleep(0.02)
    assert await old_left() == 5  # at most PRUNED_PER_CALL forgotten by one new key
    assert (kept - {f"EvOLD{n}" for n in range(PRUNED_PER_CALL + 5)}) <= await remembered()  # the recent ones stay
    assert (await bot.sender.event(reply, event_id="Ev0NEW2")).status == 200
    for _ in range(250):
        if await old_left() == 0:
            break
        await asyncio.sleep(0.02)
    assert await old_left() == 0
