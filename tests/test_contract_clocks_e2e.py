"""Issue 9 through the signed HTTP path, the real scheduler and the Slack stand-in, on SQLite and PostgreSQL:
pauses and courtesy updates (item 4), escalations that keep the plan's hours (item 5).

Time is the bot's ManualClock; the scheduler's short real tick notices when the test moves it.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from bot.services.oncall import set_oncall
from tests.helpers import CHANNEL, announced_ticket, eventually, open_step1, select_value, setup_workspace, sla, submit_step1
from tests.test_scheduler_e2e import ONCALL, thread_notices

UTC = timezone.utc
M, H = timedelta(minutes=1), timedelta(hours=1)
BOSS = "U0BOSS"


async def ticket_on(bot, plan_id: str, severity: str, opened_at: datetime | None = None):
    """A ticket reported through the modal in a channel whose customer is on `plan_id`; returns the announcement."""
    setup_workspace(bot)
    bot.slack.add_user(ONCALL, "olga")
    bot.slack.add_user(BOSS, "bob")
    await set_oncall(bot.services, "on-call", "UADMIN", user_id=ONCALL)
    await set_oncall(bot.services, "next-level", "UADMIN", user_id=BOSS)
    await set_oncall(bot.services, "manager", "UADMIN", user_id=BOSS)
    bot.services.settings.responder_user_ids = ONCALL
    await bot.services.add_customer("ACME", CHANNEL, plan_id)
    if opened_at is not None:
        bot.clock.set(opened_at)
    plan = bot.services.policies.plan(plan_id)
    view = await open_step1(bot, "Checkout is down")
    answers = {q.id: "no" for q in plan.policy.file.classification.questions}
    r = await submit_step1(bot, view, "Checkout is down", answers)
    step2 = r.json["view"]
    step2["id"] = view["id"]
    values = {"severity": select_value(severity), "priority": select_value("p1"), "reason": {"value": "as the customer describes it"}}
    await bot.sender.view_submission(step2, "U0REPORTER", values)
    msg = (await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")]))[0]
    await announced_ticket(bot)
    return msg


async def clock_rows(bot) -> dict:
    ticket = await bot.services.get_ticket("INC-1")
    return {c.clock: c for c in ticket.clocks}


def escalations(bot, msg) -> list:
    return [m for m in thread_notices(bot, msg) if "Escalation" in (m.text or "")]


# -- item 4 ----------------------------------------------------------------------------------------


async def test_pausing_with_a_question_stops_the_first_response_clock(scheduled_bot) -> None:
    bot = scheduled_bot
    msg = await ticket_on(bot, "comarch-cci-premium", "business-critical")  # first response 30m
    bot.clock.advance(10 * M)
    await sla(bot, "pause INC-1 Which browser shows the error?", ONCALL)
    paused_at = bot.clock.now()
    rows = await clock_rows(bot)
    assert (rows["first_response"].status, rows["first_response"].stopped_at) == ("met", paused_at)
    assert (await bot.services.get_ticket("INC-1")).first_response_at == paused_at
    bot.clock.advance(2 * H)  # far past the 30 minutes: the customer owes the answer, nobody is paged
    await asyncio.sleep(0.3)
    assert escalations(bot, msg) == []


async def test_updates_during_a_pause_are_courtesies_and_a_promise_survives_the_resume(scheduled_bot) -> None:
    bot = scheduled_bot
    await ticket_on(bot, "commercetools-premium", "s1")  # updates every 30m
    bot.clock.advance(5 * M)
    await sla(bot, "ack INC-1", ONCALL)
    bot.clock.advance(5 * M)
    await sla(bot, "pause INC-1 waiting for the logs of the customer", ONCALL)
    bot.clock.advance(40 * M)
    await sla(bot, "update INC-1 next=3h still looking at what we have", ONCALL)  # a courtesy
    promised = bot.clock.now() + 3 * H
    bot.clock.advance(30 * M)
    await sla(bot, "resume INC-1", ONCALL)
    rows = await clock_rows(bot)
    assert (rows["update"].status, rows["update"].due_at) == ("running", promised)  # the promise outlives the pause
    assert rows["update"].verdict == "met"  # the one owed period (ack -> pause) was met; the courtesy made none
    assert len(rows["update"].periods) == 1


# -- item 5 ----------------------------------------------------------------------------------------


async def test_escalations_wait_for_monday_on_a_business_hours_plan(scheduled_bot) -> None:
    """Comarch Basic, opened Thu 15:00 Warsaw: 12 business hours, due Fri 18:00. One ping at once, then Monday."""
    bot = scheduled_bot
    msg = await ticket_on(bot, "comarch-cci-basic", "business-critical", datetime(2026, 11, 26, 14, 0, tzinfo=UTC))
    fri_18 = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
    assert (await clock_rows(bot))["first_response"].due_at == fri_18
    bot.clock.set(fri_18 + M)
    await eventually(lambda: len(escalations(bot, msg)) == 1)
    assert "Escalation level 1" in escalations(bot, msg)[0].text
    for saturday_hour in (0, 6, 12, 18):  # the weekend: quiet
        bot.clock.set(datetime(2026, 11, 28, saturday_hour, 0, tzinfo=UTC))
        await asyncio.sleep(0.15)
    bot.clock.set(datetime(2026, 11, 30, 8, 29, tzinfo=UTC))  # Mon 09:29 Warsaw
    await asyncio.sleep(0.3)
    assert len(escalations(bot, msg)) == 1
    bot.clock.set(datetime(2026, 11, 30, 8, 31, tzinfo=UTC))  # 30 business minutes after the breach
    await eventually(lambda: len(escalations(bot, msg)) == 2)
    assert "Escalation level 2" in escalations(bot, msg)[-1].text
    bot.clock.set(datetime(2026, 11, 30, 9, 1, tzinfo=UTC))
    await eventually(lambda: len(escalations(bot, msg)) == 3)
    assert "Escalation level 3" in escalations(bot, msg)[-1].text
