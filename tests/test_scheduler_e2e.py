"""Reminders and escalations through the real APScheduler, the database timers and the Slack stand-in.

Time is the bot's ManualClock: tests move it, the scheduler's short real tick notices.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from bot.scheduler import METADATA_EVENT, SlaScheduler
from bot.services.oncall import set_oncall
from storage.models import SlaTimer
from tests.helpers import CHANNEL, announced_ticket, eventually, report, setup_workspace

ONCALL, LEAD, BOSS = "U0ONCALL", "U0LEAD", "U0BOSS"
M = timedelta(minutes=1)


async def ticket_with_oncall(bot) -> object:
    """Comarch Premium business-critical: first response due 30 minutes after opening."""
    setup_workspace(bot)
    bot.slack.add_user(ONCALL, "olga")
    await set_oncall(bot.services, "on-call", "UADMIN", user_id=ONCALL)
    group = bot.slack.add_usergroup("S0LEADS", "leads", users=[LEAD])
    await set_oncall(bot.services, "next-level", "UADMIN", group_id=group.id)
    await set_oncall(bot.services, "manager", "UADMIN", user_id=BOSS)
    bot.services.settings.responder_user_ids = ONCALL
    await report(bot)
    msg = (await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")]))[0]
    await announced_ticket(bot)
    return msg


def thread_notices(bot, msg) -> list:
    return [m for m in bot.slack.messages_in(CHANNEL, thread_ts=msg.ts) if (m.metadata or {}).get("event_type") == METADATA_EVENT]


async def timers(bot) -> list[SlaTimer]:
    async with bot.services.sessions() as s:
        return list((await s.execute(select(SlaTimer).order_by(SlaTimer.id))).scalars())


async def test_reminder_goes_out_once_in_thread_mentioning_on_call(scheduled_bot) -> None:
    bot = scheduled_bot
    msg = await ticket_with_oncall(bot)
    bot.clock.advance(15 * M)  # 50% of 30 minutes
    notices = await eventually(lambda: thread_notices(bot, msg))
    text = str(notices[0].blocks)
    assert "first response due" in text and "50%" in text and f"<@{ONCALL}>" in text
    assert "15m of support time left" in text
    actions = [e["action_id"] for b in notices[0].blocks if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["ticket_acknowledge", "ticket_update"]
    await asyncio.sleep(0.3)  # several ticks: still one
    assert len(thread_notices(bot, msg)) == 1
    sent = [t for t in await timers(bot) if t.state == "sent"]
    assert [(t.label, t.late, t.message_ts) for t in sent] == [("50%", False, notices[0].ts)]


async def test_acknowledge_drops_the_remaining_reminders(scheduled_bot) -> None:
    bot = scheduled_bot
    msg = await ticket_with_oncall(bot)
    await bot.sender.block_action("ticket_acknowledge", ONCALL, value="INC-1", channel_id=CHANNEL, message_ts=msg.ts)
    await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL, thread_ts=msg.ts) if "acknowledged" in (m.text or "")])
    for _ in range(250):  # the ack counts once its post (where the customer sees it) is recorded
        if (await bot.services.get_ticket("INC-1")).first_response_at is not None:
            break
        await asyncio.sleep(0.02)
    bot.clock.advance(2 * 60 * M)
    await asyncio.sleep(0.3)
    assert thread_notices(bot, msg) == []
    assert {t.state for t in await timers(bot)} == {"dropped"}


async def test_escalation_ladder_and_stop(scheduled_bot) -> None:
    bot = scheduled_bot
    msg = await ticket_with_oncall(bot)
    for minutes in (15, 23, 27):  # the three reminders, on time
        bot.clock.advance(minutes * M - (bot.clock.now() - (await bot.services.get_ticket("INC-1")).opened_at))
        await eventually(lambda n=minutes: len(thread_notices(bot, msg)) == (1 if n == 15 else 2 if n == 23 else 3))
    bot.clock.advance(3 * M)  # breach at 30m: level 1 on-call
    await eventually(lambda: len(thread_notices(bot, msg)) == 4)
    assert f"<@{ONCALL}>" in thread_notices(bot, msg)[-1].text and "Escalation level 1" in thread_notices(bot, msg)[-1].text
    bot.clock.advance(30 * M)  # level 2: the user group
    await eventually(lambda: len(thread_notices(bot, msg)) == 5)
    assert "<!subteam^S0LEADS>" in thread_notices(bot, msg)[-1].text
    bot.clock.advance(30 * M)  # level 3: manager, then every hour
    await eventually(lambda: len(thread_notices(bot, msg)) == 6)
    bot.clock.advance(60 * M)
    await eventually(lambda: len(thread_notices(bot, msg)) == 7)
    assert "level 3 repeat 1" in thread_notices(bot, msg)[-1].text and f"<@{BOSS}>" in thread_notices(bot, msg)[-1].text
    # someone takes it: the pings stop
    await bot.sender.block_action("escalation_ack", ONCALL, value="INC-1|first_response", channel_id=CHANNEL, message_ts=msg.ts)
    await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL, thread_ts=msg.ts) if "took the escalation" in (m.text or "")])
    bot.clock.advance(5 * 60 * M)
    await asyncio.sleep(0.3)
    assert len(thread_notices(bot, msg)) == 7


async def test_after_downtime_overdue_notices_are_sent_once_marked_late(bot) -> None:
    msg = await ticket_with_oncall(bot)
    sla = SlaScheduler(bot.services, bot.client, replica_id="after-restart")
    bot.clock.advance(70 * M)  # the bot was down: three reminders, levels 1 and 2 are overdue
    result = await sla.tick()
    # reminders for a passed deadline are moot; level 1 is folded into level 2: one ping, marked late
    assert (result.claimed, result.sent, result.dropped) == (5, 1, 4)
    notices = thread_notices(bot, msg)
    assert len(notices) == 1
    assert "Escalation level 2" in notices[0].text and "Sent late (10m after it was due)" in str(notices[0].blocks)
    assert "1 earlier notice(s) folded" in str(notices[0].blocks)
    states = {t.label: (t.state, t.error) for t in await timers(bot)}
    assert states["level 1"] == ("dropped", f"folded into timer {next(t.id for t in await timers(bot) if t.label == 'level 2')}")
    assert states["50%"] == ("dropped", "moot when it came due")
    assert (await sla.tick()).claimed == 0


async def test_slack_errors_are_retried_with_backoff_or_failed(bot) -> None:
    msg = await ticket_with_oncall(bot)
    sla = SlaScheduler(bot.services, bot.client, replica_id="r1")
    bot.slack.fail_next("chat.postMessage", status=500)  # given back with backoff: no retry by the client itself
    bot.clock.advance(15 * M)
    result = await sla.tick()
    assert result.retried == 1 and thread_notices(bot, msg) == []
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if c.status == 500]) == 1
    row = next(t for t in await timers(bot) if t.label == "50%")
    assert row.state == "pending" and row.run_at > bot.clock.now() and row.error
    bot.clock.advance(M)
    result = await sla.tick()
    assert result.sent == 1 and len(thread_notices(bot, msg)) == 1
    bot.slack.fail_next("chat.postMessage", error="channel_not_found")
    bot.clock.advance(8 * M)
    result = await sla.tick()
    assert result.failed == 1
    assert next(t for t in await timers(bot) if t.label == "75%").error == "channel_not_found"


async def test_claim_then_crash_is_reclaimed_after_the_lease_and_sent_once(bot) -> None:
    msg = await ticket_with_oncall(bot)
    crashed = SlaScheduler(bot.services, bot.client, replica_id="crashed", lease=timedelta(seconds=30))
    survivor = SlaScheduler(bot.services, bot.client, replica_id="survivor", lease=timedelta(seconds=30))
    bot.clock.advance(15 * M)
    claimed = await crashed.claim(bot.clock.now())  # claimed, then the process died before posting
    assert len(claimed) == 1
    assert (await survivor.tick()).claimed == 0  # held by the lease
    bot.clock.advance(timedelta(seconds=31))
    result = await survivor.tick()
    assert result.sent == 1 and len(thread_notices(bot, msg)) == 1


async def test_post_accepted_before_crash_is_not_repeated(bot) -> None:
    msg = await ticket_with_oncall(bot)
    crashed = SlaScheduler(bot.services, bot.client, replica_id="crashed", lease=timedelta(seconds=30))
    bot.clock.advance(15 * M)
    (row,) = await crashed.claim(bot.clock.now())
    # Slack accepted the post, then the process died before recording its ts
    await bot.client.chat_postMessage(
        channel=CHANNEL, thread_ts=msg.ts, text="reminder", metadata={"event_type": METADATA_EVENT, "event_payload": {"timer_id": row.id}}
    )
    bot.clock.advance(timedelta(seconds=31))
    result = await SlaScheduler(bot.services, bot.client, replica_id="survivor").tick()
    assert (result.recovered, result.sent) == (1, 0)
    assert len(thread_notices(bot, msg)) == 1
    stored = next(t for t in await timers(bot) if t.id == row.id)
    assert stored.state == "sent" and stored.message_ts == thread_notices(bot, msg)[0].ts


async def test_reclassify_to_more_urgent_breaches_at_once(scheduled_bot) -> None:
    from bot.services import record_action

    bot = scheduled_bot
    setup_workspace(bot)
    await set_oncall(bot.services, "on-call", "UADMIN", user_id=ONCALL)
    await report(bot, severity="general-guidance", reason="looks minor")  # 24 h
    msg = (await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")]))[0]
    await announced_ticket(bot)
    bot.clock.advance(2 * 60 * M)
    assert thread_notices(bot, msg) == []
    await record_action(bot.services, "INC-1", "reclassified", ONCALL, severity="business-critical", reason="it is down")
    notices = await eventually(lambda: thread_notices(bot, msg))
    assert "deadline missed" in notices[0].text and "1h 30m late" in notices[0].text


async def test_update_clock_reminders_follow_stated_next_update_and_pause_drops_them(scheduled_bot) -> None:
    from bot.services import record_action

    bot = scheduled_bot
    setup_workspace(bot)
    await bot.services.add_customer("Shop", CHANNEL, "commercetools-premium")
    await set_oncall(bot.services, "on-call", "UADMIN", user_id=ONCALL)
    view_answers = {"question_only": "no", "production_down": "yes", "production_affected": "yes"}
    from tests.test_intake_e2e import open_step1, select_value, submit_step1

    view = await open_step1(bot, "Storefront down")
    r = await submit_step1(bot, view, "Storefront down", view_answers)
    step2 = r.json["view"]
    step2["id"] = view["id"]
    await bot.sender.view_submission(
        step2, "U0REPORTER", {"severity": select_value("s1"), "priority": select_value("p1"), "reason": {"value": ""}}
    )
    msg = (await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")]))[0]
    await announced_ticket(bot)

    await record_action(bot.services, "INC-1", "acknowledged", ONCALL)  # update clock starts: every 30 minutes
    await record_action(bot.services, "INC-1", "updated", ONCALL, data={"text": "rolling back"}, next_update_at=bot.clock.now() + 120 * M)
    bot.clock.advance(30 * M)  # 30 minutes would have been the plan's interval: the stated 2 h wins
    await asyncio.sleep(0.3)
    assert thread_notices(bot, msg) == []
    bot.clock.advance(30 * M)  # 50% of the stated two hours
    notices = await eventually(lambda: thread_notices(bot, msg))
    assert "next update due" in notices[0].text and "50%" in notices[0].text
    await record_action(bot.services, "INC-1", "paused", ONCALL, reason="waiting for logs")
    bot.clock.advance(3 * 60 * M)
    await asyncio.sleep(0.3)
    assert len(thread_notices(bot, msg)) == 1
    pending = [t for t in await timers(bot) if t.state == "pending"]
    assert pending == []


async def test_a_burst_of_notices_in_one_channel_is_paced_not_lost(scheduled_bot) -> None:
    """Slack's per-channel rate (the stand-in's, burst 2): 10 reminders due at once in one channel all arrive, once."""
    bot = scheduled_bot
    N = 10
    setup_workspace(bot)
    bot.slack.add_user(ONCALL, "olga")
    await set_oncall(bot.services, "on-call", "UADMIN", user_id=ONCALL)
    for i in range(N):
        await report(bot, summary=f"outage {i}")
        await announced_ticket(bot, f"INC-{i + 1}")
    bot.slack.set_post_rate(1.0, burst=2)
    bot.clock.advance(15 * M)  # every ticket's 50% reminder is due now
    await eventually(
        lambda: len([m for m in bot.slack.messages if (m.metadata or {}).get("event_type") == METADATA_EVENT]) == N, timeout=30
    )
    assert [c for c in bot.slack.calls_to("chat.postMessage") if c.status == 429]  # Slack did push back
    for _ in range(500):  # the batch records its outcomes once all its posts are done
        sent = [t for t in await timers(bot) if t.state == "sent"]
        if len(sent) == N:
            break
        await asyncio.sleep(0.02)
    assert len({t.ticket_id for t in sent}) == N


async def test_the_lease_is_its_own_column_and_the_claim_reads_it(bot) -> None:
    await ticket_with_oncall(bot)
    holder = SlaScheduler(bot.services, bot.client, replica_id="holder", lease=timedelta(seconds=30))
    other = SlaScheduler(bot.services, bot.client, replica_id="other", lease=timedelta(seconds=30))
    bot.clock.advance(15 * M)
    now = bot.clock.now()
    (row,) = await holder.claim(now)
    stored = next(t for t in await timers(bot) if t.id == row.id)
    assert (stored.state, stored.claimed_by, stored.lease_until) == ("claimed", "holder", now + timedelta(seconds=30))
    assert stored.run_at == stored.due_at  # when it should run; the lease does not overwrite it
    assert await other.claim(now + timedelta(seconds=29)) == []
    assert other.next_due == now + timedelta(seconds=30)  # the next runnable instant is the lease's end
    (again,) = await other.claim(now + timedelta(seconds=30))
    assert (again.id, again.claimed_by, again.attempts) == (row.id, "other", 2)


async def test_reminder_accepted_but_answered_5xx_is_found_in_the_thread_not_posted_again(scheduled_bot) -> None:
    """slack_sdk's own 5xx retry used to post it again without looking; now the retry is an attempt that looks first."""
    bot = scheduled_bot
    msg = await ticket_with_oncall(bot)
    bot.slack.fail_next("chat.postMessage", status=500, accept=True)  # Slack keeps the post, the answer is a 500
    bot.clock.advance(15 * M)
    await eventually(lambda: thread_notices(bot, msg))
    for _ in range(250):  # the 500 is recorded as a retry, not a failure
        if any(t.label == "50%" and t.state == "pending" and t.attempts == 1 for t in await timers(bot)):
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the 5xx was never recorded as a retry")
    assert len(thread_notices(bot, msg)) == 1  # no silent second post by the client
    bot.clock.advance(timedelta(seconds=6))  # past the retry's backoff
    await eventually(lambda: bot.slack.calls_to("conversations.replies"))
    await bot.sla.tick()
    assert len(thread_notices(bot, msg)) == 1
    [fifty] = [t for t in await timers(bot) if t.label == "50%"]
    assert (fifty.state, fifty.message_ts, fifty.attempts) == ("sent", thread_notices(bot, msg)[0].ts, 2)
