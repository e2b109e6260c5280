"""Responder actions through the real HTTP path, including refused ones."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from storage.models import SlaClockRow
from tests.helpers import CHANNEL, announced_ticket, eventually, report, select_value, setup_workspace, sla

RESPONDER = "U0RESPONDER"
STRANGER = "U0STRANGER"


async def opened_ticket(bot):
    setup_workspace(bot)
    bot.slack.add_user(RESPONDER, "ron")
    bot.slack.add_user(STRANGER, "sam")
    group = bot.slack.add_usergroup("S0ONCALL", "oncall", users=[RESPONDER])
    bot.services.settings.responder_group_id = group.id
    await report(bot)
    msgs = await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")])
    await announced_ticket(bot)
    return msgs[0]


def buttons(message) -> list[str]:
    return [e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]]


async def counted(bot):
    """The ticket once its first response counted: the action's post where the customer sees it is recorded."""
    for _ in range(250):
        ticket = await bot.services.get_ticket("INC-1")
        if ticket.first_response_at is not None and {c.clock: c.status for c in ticket.clocks}["first_response"] != "running":
            return ticket
        await asyncio.sleep(0.02)
    raise AssertionError("the first response never counted")


async def click(bot, action_id: str, user: str, message) -> None:
    r = await bot.sender.block_action(action_id, user, value="INC-1", channel_id=CHANNEL, message_ts=message.ts)
    assert r.status == 200


async def test_acknowledge_stops_first_response_clock(bot) -> None:
    msg = await opened_ticket(bot)
    bot.clock.advance(timedelta(minutes=10))
    await click(bot, "ticket_acknowledge", RESPONDER, msg)
    replies = await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL, thread_ts=msg.ts) if "acknowledged" in (m.text or "")])
    assert f"<@{RESPONDER}> acknowledged INC-1" in replies[0].text
    ticket = await counted(bot)  # it counts once the post the customer sees is recorded
    assert ticket.first_response_at == bot.clock.now()
    clocks = {c.clock: c.status for c in ticket.clocks}
    assert clocks["first_response"] == "met"
    # the announcement is refreshed once the action counted
    await eventually(lambda: "(met)" in str(bot.slack.find_message(CHANNEL, msg.ts).blocks))


async def test_forged_click_from_non_responder_is_refused(bot) -> None:
    msg = await opened_ticket(bot)
    await click(bot, "ticket_acknowledge", STRANGER, msg)
    refusal = await eventually(lambda: [c for c in bot.slack.calls_to("chat.postEphemeral") if c.params.get("user") == STRANGER])
    assert "Only responders can acknowledge" in refusal[0].params["text"]
    ticket = await bot.services.get_ticket("INC-1")
    assert ticket.first_response_at is None and [e.kind for e in ticket.events] == ["reported", "classified"]


async def test_reclassify_needs_reason_and_recomputes_deadlines(bot) -> None:
    msg = await opened_ticket(bot)
    await click(bot, "ticket_reclassify", RESPONDER, msg)
    view = await eventually(lambda: (v := bot.slack.last_view()) and v.get("callback_id") == "ticket_reclassify_modal" and v)
    values = {"severity": select_value("general-guidance"), "priority": select_value("p3"), "reason": {"value": "  "}}
    r = await bot.sender.view_submission(view, RESPONDER, values)
    assert r.json["response_action"] == "errors" and "needs a reason" in r.json["errors"]["reason"]
    values["reason"] = {"value": "staging only"}
    r = await bot.sender.view_submission(view, RESPONDER, values)
    assert r.status == 200 and not r.text
    ticket = await bot.services.get_ticket("INC-1")
    assert (ticket.severity, ticket.priority) == ("general-guidance", "p3")
    due = {c.clock: c.due_at for c in ticket.clocks}
    assert due["first_response"] - ticket.opened_at == timedelta(hours=24)
    event = ticket.events[-1]
    assert (event.kind, event.reason, event.actor_id) == ("reclassified", "staging only", RESPONDER)


async def test_update_pause_resume_resolve_reopen(bot) -> None:
    msg = await opened_ticket(bot)
    await click(bot, "ticket_update", RESPONDER, msg)
    view = await eventually(lambda: (v := bot.slack.last_view()) and v.get("callback_id") == "ticket_update_modal" and v)
    r = await bot.sender.view_submission(view, RESPONDER, {"text": {"value": "Rolling back <!here>"}, "next": select_value("60")})
    assert r.status == 200
    thread = await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL, thread_ts=msg.ts) if "Rolling back" in (m.text or "")])
    assert "&lt;!here&gt;" in thread[0].text
    status = await bot.services.status_of(await counted(bot))
    assert status.clocks["update"].due == bot.clock.now() + timedelta(minutes=60)
    assert status.clocks["first_response"].status.value == "met"  # an update is a first response

    await click(bot, "ticket_pause", RESPONDER, msg)
    view = await eventually(lambda: (v := bot.slack.last_view()) and v.get("callback_id") == "ticket_pause_modal" and v)
    await bot.sender.view_submission(view, RESPONDER, {"reason": {"value": "waiting for logs"}})
    await eventually(lambda: "ticket_resume" in buttons(bot.slack.find_message(CHANNEL, msg.ts)))
    assert (await bot.services.get_ticket("INC-1")).state == "paused"

    await click(bot, "ticket_resume", RESPONDER, msg)
    await eventually(lambda: "ticket_pause" in buttons(bot.slack.find_message(CHANNEL, msg.ts)))

    await click(bot, "ticket_resolve", RESPONDER, msg)
    view = await eventually(lambda: (v := bot.slack.last_view()) and v.get("callback_id") == "ticket_resolve_modal" and v)
    await bot.sender.view_submission(view, RESPONDER, {"note": {"value": "Restarted the pool"}})
    await eventually(lambda: buttons(bot.slack.find_message(CHANNEL, msg.ts)) == ["ticket_reopen"])
    ticket = await bot.services.get_ticket("INC-1")
    assert ticket.state == "resolved" and ticket.resolved_at == bot.clock.now()

    # resolving twice is refused with a message, not an error
    await click(bot, "ticket_acknowledge", RESPONDER, msg)
    told = await eventually(lambda: [c for c in bot.slack.calls_to("chat.postEphemeral") if "is resolved" in c.params.get("text", "")])
    assert "INC-1 is resolved" in told[0].params["text"]

    await click(bot, "ticket_reopen", RESPONDER, msg)
    await eventually(lambda: "ticket_resolve" in buttons(bot.slack.find_message(CHANNEL, msg.ts)))
    kinds = [e.kind for e in (await bot.services.get_ticket("INC-1")).events]
    assert kinds == ["reported", "classified", "updated", "paused", "resumed", "resolved", "reopened"]
    async with bot.services.sessions() as s:
        rows = (await s.execute(select(SlaClockRow).where(SlaClockRow.ticket_id == 1))).scalars().all()
    assert {r.clock for r in rows} == {"first_response", "update", "resolution"}


async def test_thread_reply_by_support_counts_reporter_reply_does_not(bot) -> None:
    msg = await opened_ticket(bot)
    reporter = {
        "type": "message",
        "user": "U0REPORTER",
        "channel": CHANNEL,
        "text": "any news?",
        "ts": "1764490100.000200",
        "thread_ts": msg.ts,
    }
    await bot.sender.event(reporter, event_id="Ev0REPLY1")
    bot.clock.advance(timedelta(minutes=5))
    support = {
        "type": "message",
        "user": RESPONDER,
        "channel": CHANNEL,
        "text": "looking now",
        "ts": "1764490200.000300",
        "thread_ts": msg.ts,
    }
    await bot.sender.event(support, event_id="Ev0REPLY2")
    await bot.sender.event(support, event_id="Ev0REPLY2", retry_num=1)
    ticket = await eventually_ticket(bot, lambda t: t.first_response_at is not None)
    assert ticket.first_response_at == bot.clock.now()
    later = {**support, "ts": "1764490300.000400", "text": "fix deployed", "event_ts": "1764490300.000400"}
    await bot.sender.event(later, event_id="Ev0REPLY3")
    ticket = await eventually_ticket(bot, lambda t: [e.kind for e in t.events][-1] == "updated")
    assert [e.kind for e in ticket.events] == ["reported", "classified", "acknowledged", "updated"]


async def eventually_ticket(bot, check):
    import asyncio

    for _ in range(200):
        ticket = await bot.services.get_ticket("INC-1")
        if check(ticket):
            return ticket
        await asyncio.sleep(0.02)
    raise AssertionError("ticket never reached the expected state")


async def test_assign_from_button(bot) -> None:
    msg = await opened_ticket(bot)
    await click(bot, "ticket_assign", RESPONDER, msg)
    view = await eventually(lambda: (v := bot.slack.last_view()) and v.get("callback_id") == "ticket_assign_modal" and v)
    r = await bot.sender.view_submission(view, RESPONDER, {"assignee": {"value": {"type": "users_select", "selected_user": RESPONDER}}})
    assert r.status == 200
    ticket = await eventually_ticket(bot, lambda t: t.assignee_id == RESPONDER)
    assert ticket.events[-1].kind == "assigned"
    await eventually(lambda: f"<@{RESPONDER}>" in str(bot.slack.find_message(CHANNEL, msg.ts).blocks))


async def test_ticket_commands(bot) -> None:
    msg = await opened_ticket(bot)
    assert "Only responders" in await sla(bot, "ack INC-1", STRANGER)
    assert "Done: INC-1 acknowledged" in await sla(bot, "ack INC-1", RESPONDER)
    assert "Done: INC-1 assigned" in await sla(bot, f"assign INC-1 <@{RESPONDER}|ron>", RESPONDER)
    assert "Done: INC-1 updated" in await sla(bot, "update INC-1 next=45m rolled back", RESPONDER)
    status = await bot.services.status_of(await bot.services.get_ticket("INC-1"))
    assert status.clocks["update"].due == bot.clock.now() + timedelta(minutes=45)
    assert "unknown severity 'sev9'" in await sla(bot, "reclassify INC-1 severity=sev9 because", RESPONDER)
    assert "needs a reason" in await sla(bot, "reclassify INC-1 severity=system-impaired", RESPONDER)
    assert "Done" in await sla(bot, "reclassify INC-1 severity=system-impaired only reporting is down", RESPONDER)
    assert "say why" in await sla(bot, "pause INC-1", RESPONDER)
    assert "Done" in await sla(bot, "pause INC-1 waiting for a HAR file", RESPONDER)
    assert "Done" in await sla(bot, "resume INC-1", RESPONDER)
    assert "Done" in await sla(bot, "resolve INC-1 cache flushed", RESPONDER)
    assert "is resolved" in await sla(bot, "resolve INC-1 again", RESPONDER)
    assert "Done" in await sla(bot, "reopen INC-1", RESPONDER)
    assert "which ticket?" in await sla(bot, "ack", RESPONDER)
    assert "not a ticket id" in await sla(bot, "ack 42x", RESPONDER)
    thread = [m.text for m in bot.slack.messages_in(CHANNEL, thread_ts=msg.ts)]
    assert any("rolled back" in (t or "") for t in thread)
    kinds = [e.kind for e in (await bot.services.get_ticket("INC-1")).events]
    assert kinds == [
        "reported",
        "classified",
        "acknowledged",
        "assigned",
        "updated",
        "reclassified",
        "paused",
        "resumed",
        "resolved",
        "reopened",
    ]


async def test_forged_modal_submission_from_non_responder_is_refused_and_logged(bot, caplog) -> None:
    await opened_ticket(bot)
    forged = {"type": "modal", "callback_id": "ticket_resolve_modal", "private_metadata": '{"ticket": "INC-1"}', "blocks": []}
    with caplog.at_level("WARNING"):
        r = await bot.sender.view_submission(forged, STRANGER, {"note": {"value": "closing it myself"}})
    assert r.json == {"response_action": "errors", "errors": {"note": "Only responders can resolve tickets."}}
    assert any("refused ticket_resolve_modal submission by U0STRANGER" in rec.getMessage() for rec in caplog.records)
    ticket = await bot.services.get_ticket("INC-1")
    assert ticket.state == "open" and [e.kind for e in ticket.events] == ["reported", "classified"]


async def test_buttons_on_a_resolved_ticket_say_in_words_what_cannot_be_done(bot) -> None:
    """The words come from the one table of actions (it used to say "cannot acknowledg it now", "updat", "paus")."""
    msg = await opened_ticket(bot)
    assert "Done: INC-1 resolved" in await sla(bot, "resolve INC-1 cache flushed", RESPONDER)
    modals = len(bot.slack.calls_to("views.open"))

    def told() -> list[str]:
        return [c.params["text"] for c in bot.slack.calls_to("chat.postEphemeral") if c.params.get("user") == RESPONDER]

    for action_id in ("ticket_acknowledge", "ticket_update", "ticket_pause"):
        n = len(told())
        await click(bot, action_id, RESPONDER, msg)
        await eventually(lambda: len(told()) > n)
    assert told() == [
        "INC-1 is resolved: cannot acknowledge it now",
        "INC-1 is resolved: cannot post an update on it now",
        "INC-1 is resolved: cannot pause it now",
    ]
    assert len(bot.slack.calls_to("views.open")) == modals  # no form to fill in vain
    assert await sla(bot, "update INC-1 rolled back", RESPONDER) == ":x: INC-1 is resolved: cannot post an update on it now"
    assert await sla(bot, "resume INC-1", RESPONDER) == ":x: INC-1 is resolved: cannot resume it now"


async def test_reclassify_by_command_may_change_the_priority_alone(bot) -> None:
    """`/sla reclassify INC-1 priority=p2 …`: severity stays, its deadlines too; the timeline says what changed."""
    msg = await opened_ticket(bot)
    before = await bot.services.status_of(await bot.services.get_ticket("INC-1"))
    assert "Done: INC-1 reclassified" in await sla(bot, "reclassify INC-1 priority=p2 the customer has a workaround", RESPONDER)
    ticket = await bot.services.get_ticket("INC-1")
    assert (ticket.severity, ticket.priority) == ("business-critical", "p2")
    assert ticket.events[-1].kind == "reclassified" and ticket.events[-1].severity is None
    after = await bot.services.status_of(ticket)
    assert after.clocks["first_response"].due == before.clocks["first_response"].due
    assert after.clocks["resolution"].due == before.clocks["resolution"].due
    thread = await eventually(
        lambda: [m.text for m in bot.slack.messages_in(CHANNEL, thread_ts=msg.ts) if "reclassified" in (m.text or "")]
    )
    assert f"<@{RESPONDER}> reclassified INC-1: now Business-critical system shutdown, P2 - High" in thread[0]
    assert await sla(bot, "ticket INC-1", RESPONDER) == "INC-1: 3 events, 0 deadlines missed"
    assert "reclassified to *P2 - High* by" in str(bot.slack.response_posts[-1].body["blocks"])  # the timeline


async def test_a_button_without_its_ticket_is_told_so(bot) -> None:
    """Every button of ours carries its ticket; a click that does not (no such button exists) gets a clear line."""
    msg = await opened_ticket(bot)
    r = await bot.sender.block_action("ticket_acknowledge", RESPONDER, channel_id=CHANNEL, message_ts=msg.ts)
    assert r.status == 200
    told = await eventually(lambda: [c for c in bot.slack.calls_to("chat.postEphemeral") if c.params.get("user") == RESPONDER])
    assert told[0].params["text"] == "This button does not say which ticket it is for: use `/sla` with the ticket id (`/sla ack INC-42`)."
    assert [e.kind for e in (await bot.services.get_ticket("INC-1")).events] == ["reported", "classified"]
