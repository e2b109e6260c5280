"""Item 2 of issue 9: only what the customer can see counts as a response or an update.

A customer with a triage channel: the ticket is announced there; responders' replies in that thread
are internal notes and stop no clock. Acknowledge, Post update, Pause, Resolve and Reopen post a
short message in the customer's channel thread, and count only once it is posted. Through the
engine, then through the signed HTTP path against the stand-in, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from rules.policy_load import load_policies
from rules.sla import ClockStatus, TicketEvent, evaluate
from storage.models import TicketEventRow
from storage.tickets import engine_events
from tests.helpers import CHANNEL, eventually, report, setup_workspace, sla

UTC = timezone.utc
M = timedelta(minutes=1)
T = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
TRIAGE, RESPONDER = "C0TRIAGE", "U0RESPONDER"
PRESETS = load_policies()


@pytest.mark.parametrize(
    ("event", "status", "stopped"),
    [
        (TicketEvent("responded", T + 10 * M), ClockStatus.MET, T + 10 * M),  # shown as it happened (a visible reply)
        (TicketEvent("responded", T + 10 * M, awaiting_customer=True), ClockStatus.BREACHED, None),  # never reached them
        (TicketEvent("responded", T + 10 * M, shown_at=T + 25 * M), ClockStatus.MET, T + 25 * M),
        (TicketEvent("responded", T + 10 * M, shown_at=T + 40 * M), ClockStatus.MISSED, T + 40 * M),  # posted late
        (TicketEvent("paused", T + 10 * M, awaiting_customer=True), ClockStatus.BREACHED, None),
    ],
)
def test_a_response_counts_from_when_the_customer_could_see_it(event, status, stopped) -> None:
    plan = PRESETS.plan("comarch-cci-premium")  # business-critical: 30 minutes
    fr = evaluate(plan, "business-critical", T, [event], T + 60 * M).clocks["first_response"]
    assert (fr.status, fr.stopped_at) == (status, stopped)


def test_internal_notes_are_not_engine_events() -> None:
    rows = [
        TicketEventRow(kind="noted", at=T + 5 * M, data={"text": "looking"}),
        TicketEventRow(kind="acknowledged", at=T + 9 * M, data={"customer_post": "owed"}),
    ]
    events = engine_events(rows)
    assert [(e.kind, e.awaiting_customer) for e in events] == [("responded", True)]


async def triaged_ticket(bot):
    """ACME reports in its channel; the ticket is worked in ACME's triage channel."""
    setup_workspace(bot)
    bot.slack.add_channel(TRIAGE, "acme-triage")
    bot.slack.add_user(RESPONDER, "ron")
    bot.services.settings.responder_user_ids = RESPONDER
    await bot.services.add_customer("ACME", CHANNEL, "comarch-cci-premium", triage_channel_id=TRIAGE)
    await report(bot)
    msg = (await eventually(lambda: [m for m in bot.slack.messages_in(TRIAGE) if "INC-1" in (m.text or "")]))[0]
    for _ in range(250):
        if (await bot.services.get_ticket("INC-1")).thread_ts:
            break
    return msg


async def counted(bot):
    """The first response once the post that tells the customer is recorded (right after Slack took it).

    Both the ticket and its clock record must show it: on SQLite two reads are not one snapshot."""
    for _ in range(250):
        fr, ticket = await first_response(bot)
        if fr.status != "running" and ticket.first_response_at is not None:
            break
        await asyncio.sleep(0.02)
    return fr, ticket


async def reply_in_thread(bot, channel: str, thread_ts: str, text: str, ts: str, event_id: str, until):
    """The responder's reply in a thread, as Slack sends it; returns INC-1 once `until` holds for its event kinds
    (the event is handled after Slack's request is acknowledged)."""
    reply = {"type": "message", "user": RESPONDER, "channel": channel, "text": text, "ts": ts, "thread_ts": thread_ts}
    await bot.sender.event(reply, event_id=event_id)
    for _ in range(250):
        ticket = await bot.services.get_ticket("INC-1")
        if until([e.kind for e in ticket.events]):
            break
        await asyncio.sleep(0.02)
    return ticket


async def first_response(bot):
    ticket = await bot.services.get_ticket("INC-1")
    return {c.clock: c for c in ticket.clocks}["first_response"], ticket


async def test_a_reply_in_the_triage_thread_is_an_internal_note(bot) -> None:
    msg = await triaged_ticket(bot)
    bot.clock.advance(5 * M)
    await reply_in_thread(bot, TRIAGE, msg.ts, "looks like the DB", "1764490200.000300", "Ev-note-1", lambda kinds: "noted" in kinds)
    fr, ticket = await first_response(bot)
    assert [e.kind for e in ticket.events][-1] == "noted"
    assert (fr.status, ticket.first_response_at) == ("running", None)
    assert [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")] == []  # the customer saw nothing


async def test_acknowledge_tells_the_customer_in_their_thread_and_counts_then(bot) -> None:
    msg = await triaged_ticket(bot)
    bot.clock.advance(10 * M)
    await bot.sender.block_action("ticket_acknowledge", RESPONDER, value="INC-1", channel_id=TRIAGE, message_ts=msg.ts)
    told = await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")])
    assert "We are on it" in told[0].text
    fr, ticket = await counted(bot)
    assert (fr.status, fr.stopped_at, ticket.first_response_at) == ("met", bot.clock.now(), bot.clock.now())
    assert ticket.customer_thread_ts == told[0].ts
    # later messages go into the customer's thread; a responder's reply there counts as an update
    bot.clock.advance(10 * M)
    await sla(bot, "update INC-1 the database is back", RESPONDER)
    threaded = await eventually(
        lambda: [m for m in bot.slack.messages_in(CHANNEL, thread_ts=told[0].ts) if "database is back" in (m.text or "")]
    )
    assert threaded
    bot.clock.advance(10 * M)
    ticket = await reply_in_thread(
        bot, CHANNEL, told[0].ts, "monitoring", "1764490900.000900", "Ev-cust-1", lambda kinds: kinds.count("updated") == 2
    )
    assert [e.kind for e in ticket.events if e.kind == "updated"] == ["updated", "updated"]


async def test_an_acknowledge_counts_only_when_the_customer_is_told(scheduled_bot) -> None:
    """Slack takes neither post at first: the ack is logged, the clock runs on; the retry that reaches the
    customer 40 minutes later is when the first response happened (late)."""
    bot = scheduled_bot
    msg = await triaged_ticket(bot)
    bot.clock.advance(10 * M)
    bot.slack.fail_next("chat.postMessage", status=500, times=2)
    await bot.sender.block_action("ticket_acknowledge", RESPONDER, value="INC-1", channel_id=TRIAGE, message_ts=msg.ts)
    await eventually(lambda: [c for c in bot.slack.calls_to("chat.postEphemeral") if "did not take" in c.params.get("text", "")])
    fr, ticket = await first_response(bot)
    assert any(e.kind == "acknowledged" for e in ticket.events)  # recorded: the responder did act
    assert (fr.status, ticket.first_response_at) == ("running", None)
    assert ticket.events[-1].data.get("customer_post") == "owed"
    bot.clock.advance(40 * M)  # the retries go out now
    told = await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "We are on it" in (m.text or "")])
    assert told
    fr, ticket = await counted(bot)
    assert (fr.status, fr.verdict, ticket.first_response_at) == ("missed", "missed", bot.clock.now())
