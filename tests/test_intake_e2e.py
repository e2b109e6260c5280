"""Intake through the real HTTP path: signed requests in, Web API calls out to the stand-in, on both databases."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from storage.models import Ticket, TicketEventRow
from tests.helpers import (
    CHANNEL,
    REPORTER,
    announced_ticket,
    eventually,
    mrkdwn_texts,
    open_step1,
    report,
    select_value,
    setup_workspace,
    submit_step1,
)


async def test_incident_command_to_announced_ticket(bot) -> None:
    setup_workspace(bot)
    view = await open_step1(bot, "Checkout is down")
    summary_block = next(b for b in view["blocks"] if b.get("block_id") == "summary")
    assert summary_block["element"]["initial_value"] == "Checkout is down"
    question_blocks = [b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith("q:")]
    assert question_blocks == ["q:question_only", "q:business_stopped", "q:important_functions_degraded"]

    r = await submit_step1(
        bot, view, "Checkout is down", {"question_only": "no", "business_stopped": "yes", "important_functions_degraded": "unsure"}
    )
    step2 = r.json["view"]
    suggestion = next(b for b in step2["blocks"] if b.get("block_id") == "suggestion")["text"]["text"]
    assert "Business-critical system shutdown" in suggestion
    assert "unable to fulfil its business objectives" in suggestion  # the seed definition
    assert "Example:" in suggestion

    step2["id"] = view["id"]
    values = {"severity": select_value("business-critical"), "priority": select_value("p1"), "reason": {"value": ""}}
    r2 = await bot.sender.view_submission(step2, REPORTER, values)
    assert r2.json["response_action"] == "update"
    assert "INC-1" in r2.json["view"]["blocks"][0]["text"]["text"]

    announcement = await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")])
    msg = announcement[0]
    rendered = str(msg.blocks)
    assert "<!date^" in rendered  # deadlines in each viewer's local time
    action_ids = [e["action_id"] for b in msg.blocks if b["type"] == "actions" for e in b["elements"]]
    assert action_ids == ["ticket_acknowledge", "ticket_update", "ticket_assign", "ticket_reclassify", "ticket_pause", "ticket_resolve"]

    ticket = await announced_ticket(bot)
    assert (ticket.severity, ticket.priority, ticket.plan_id) == ("business-critical", "p1", "comarch-cci-premium")
    assert ticket.thread_ts == msg.ts and ticket.announce_channel_id == CHANNEL
    assert ticket.opened_at == bot.clock.now()
    assert [e.kind for e in ticket.events] == ["reported", "classified"]
    due = {c.clock: c.due_at for c in ticket.clocks}
    assert (due["first_response"] - ticket.opened_at).total_seconds() == 30 * 60

    confirmation = await eventually(lambda: [c for c in bot.slack.calls_to("chat.postEphemeral") if c.params.get("user") == REPORTER])
    assert "INC-1" in confirmation[-1].params["text"]


async def test_override_needs_a_reason_and_is_logged(bot) -> None:
    setup_workspace(bot)
    r, step2 = await report(bot, severity="general-guidance", reason="")
    assert r.json == {"response_action": "errors", "errors": {"reason": "Say why you chose a different severity than suggested"}}
    values = {"severity": select_value("general-guidance"), "priority": select_value("p3"), "reason": {"value": "Only staging is affected"}}
    r = await bot.sender.view_submission(step2, REPORTER, values)
    assert r.json["response_action"] == "update"
    ticket = await bot.services.get_ticket("INC-1")
    classified = next(e for e in ticket.events if e.kind == "classified")
    assert (classified.severity, classified.reason, classified.data["suggested"]) == (
        "general-guidance",
        "Only staging is affected",
        "business-critical",
    )


async def test_blank_summary_returns_field_error(bot) -> None:
    setup_workspace(bot)
    view = await open_step1(bot)
    r = await submit_step1(
        bot, view, "   ", {"question_only": "yes", "business_stopped": "no", "important_functions_degraded": "no"}, description="keep me"
    )
    assert r.json["response_action"] == "errors" and "summary" in r.json["errors"]
    assert bot.slack.views[view["id"]]["callback_id"] == "incident_step1"  # the modal stays open with the text


async def test_same_submission_twice_opens_one_ticket(bot) -> None:
    setup_workspace(bot)
    r, step2 = await report(bot)
    values = {"severity": select_value("business-critical"), "priority": select_value("p1"), "reason": {"value": ""}}
    again = await bot.sender.view_submission(step2, REPORTER, values)
    assert again.json["response_action"] == "update" and "INC-1" in str(again.json["view"])
    await eventually(lambda: bot.slack.messages_in(CHANNEL))
    await asyncio.sleep(0.2)
    async with bot.services.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Ticket))).scalar_one() == 1
    assert len([m for m in bot.slack.messages_in(CHANNEL) if "INC-" in (m.text or "")]) == 1


async def test_user_text_cannot_ping(bot) -> None:
    setup_workspace(bot)
    await report(bot, summary="Down <!channel> <!here> <@U0BOSS> & more")
    msg = (await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")]))[0]
    everything = msg.text + " ".join(mrkdwn_texts(msg.blocks))
    for ping in ("<!channel>", "<!here>", "<@U0BOSS>"):
        assert ping not in everything
    assert "&lt;!channel&gt;" in msg.text


async def test_mention_retried_by_slack_is_handled_once(bot) -> None:
    setup_workspace(bot)
    event = {"type": "app_mention", "user": REPORTER, "channel": CHANNEL, "text": "<@U0STANDBOT> db is slow", "ts": "1764490000.000100"}
    first = await bot.sender.event(event, event_id="Ev0RETRY1")
    retry = await bot.sender.event(event, event_id="Ev0RETRY1", retry_num=1)
    assert first.status == retry.status == 200
    await eventually(lambda: bot.slack.calls_to("chat.postEphemeral"))
    await asyncio.sleep(0.2)
    prompts = bot.slack.calls_to("chat.postEphemeral")
    assert len(prompts) == 1
    button = prompts[0].params["blocks"]
    assert "db is slow" in str(button)
    # the button opens the modal, prefilled
    r = await bot.sender.block_action("open_report", REPORTER, value="db is slow", channel_id=CHANNEL)
    assert r.status == 200
    view = await eventually(lambda: bot.slack.last_view())
    assert next(b for b in view["blocks"] if b["block_id"] == "summary")["element"]["initial_value"] == "db is slow"


async def test_message_shortcut_prefills_from_message(bot) -> None:
    setup_workspace(bot)
    msg = bot.slack.add_message(CHANNEL, "Payments fail with 502\nsince 10:00, all EU customers", user="U0CUSTOMER")
    r = await bot.sender.message_action("report_incident", REPORTER, CHANNEL, msg.ts)
    assert r.status == 200
    view = await eventually(lambda: bot.slack.last_view())
    blocks = {b["block_id"]: b for b in view["blocks"] if "block_id" in b}
    assert blocks["summary"]["element"]["initial_value"] == "Payments fail with 502"
    assert "all EU customers" in blocks["description"]["element"]["initial_value"]


async def test_unregistered_reporter_and_over_quota_are_saved_and_told(bot) -> None:
    setup_workspace(bot)
    await bot.services.add_customer("ACME", CHANNEL, "comarch-cci-basic")
    await bot.services.add_contact("ACME", "U0PRIMARY", primary=True)
    r, _ = await report(bot, severity="system-impaired", reason="basic plan")
    assert r.json["response_action"] == "update"
    ticket = await bot.services.get_ticket("INC-1")
    assert not ticket.within_plan and "named contact" in ticket.plan_note
    confirmation = await eventually(lambda: [c for c in bot.slack.calls_to("chat.postEphemeral") if "INC-1" in c.params.get("text", "")])
    assert "may not apply" in confirmation[-1].params["text"]


async def test_bad_signature_is_refused(bot) -> None:
    r = await bot.sender.send("command=%2Fincident&text=x", "application/x-www-form-urlencoded", signature="v0=forged")
    assert r.status == 401
    async with bot.services.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(TicketEventRow))).scalar_one() == 0


async def test_admin_maps_channel_from_slack_and_others_are_refused(bot) -> None:
    setup_workspace(bot)
    r = await bot.sender.slash_command("/sla", "customers add <#C0INCIDENT|incidents> business-support-gold Globex", "U0NOBODY", CHANNEL)
    assert r.status == 200
    posts = await eventually(lambda: bot.slack.response_posts)
    assert "Only triage-bot admins" in posts[-1].body["text"]
    r = await bot.sender.slash_command("/sla", "customers add <#C0INCIDENT|incidents> business-support-gold Globex", "UADMIN", CHANNEL)
    await eventually(lambda: len(bot.slack.response_posts) == 2)
    assert "Added *Globex*" in bot.slack.response_posts[-1].body["text"]
    customer, plan = await bot.services.plan_for_channel(CHANNEL)
    assert customer.name == "Globex" and plan.id == "business-support-gold"
    r = await bot.sender.slash_command("/sla", "customers add <#C0INCIDENT|x> nope-plan Other", "UADMIN", CHANNEL)
    await eventually(lambda: len(bot.slack.response_posts) == 3)
    assert "unknown plan 'nope-plan'" in bot.slack.response_posts[-1].body["text"]


async def test_rate_limited_announcement_is_retried(bot) -> None:
    setup_workspace(bot)
    bot.slack.fail_next("chat.postMessage", status=429, retry_after=0)
    await report(bot)
    await eventually(lambda: [m for m in bot.slack.messages_in(CHANNEL) if "INC-1" in (m.text or "")])
    statuses = [c.status for c in bot.slack.calls_to("chat.postMessage")]
    assert statuses[:2] == [429, 200]


async def test_missing_triage_channel_falls_back_to_reporting_channel(bot) -> None:
    setup_workspace(bot)
    await bot.services.add_customer("Initech", CHANNEL, "comarch-cci-premium", triage_channel_id="C0GONE")
    await report(bot)
    ticket = await announced_ticket(bot)
    assert ticket.announce_channel_id == CHANNEL and ticket.thread_ts


async def test_confirmation_states_quota_use(bot) -> None:
    setup_workspace(bot)
    await bot.services.add_customer("Umbrella", CHANNEL, "business-support-gold")
    await report_gold(bot)
    confirmation = await eventually(lambda: [c for c in bot.slack.calls_to("chat.postEphemeral") if "INC-1" in c.params.get("text", "")])
    assert "Case 1 of 4 in 2026-11 (within plan)." in confirmation[-1].params["text"]


async def report_gold(bot) -> None:
    view = await open_step1(bot, "Checkout slow")
    r = await submit_step1(bot, view, "Checkout slow", {"majority_affected": "yes", "workaround": "yes", "revenue_affected": "no"})
    step2 = r.json["view"]
    step2["id"] = view["id"]
    await bot.sender.view_submission(
        step2, REPORTER, {"severity": select_value("sev3"), "priority": select_value("p3"), "reason": {"value": ""}}
    )


async def test_channel_the_bot_cannot_post_in_is_said_plainly(bot) -> None:
    setup_workspace(bot)
    bot.slack.fail_next("chat.postMessage", error="not_in_channel")
    await report(bot)
    told = await eventually(
        lambda: [
            c
            for c in bot.slack.calls
            if c.method in ("chat.postEphemeral", "chat.postMessage") and "INC-1" in c.params.get("text", "") and c.ok
        ]
    )
    assert "could not post it in this channel" in told[-1].params["text"]
    ticket = await bot.services.get_ticket("INC-1")
    assert ticket.thread_ts is None  # saved, not announced


async def test_concurrent_reports_do_not_overrun_the_quota(bot) -> None:
    """Professional allows 1 incident a month: of two reports at once, exactly one is within the plan."""
    from bot.services import ReportDraft

    setup_workspace(bot)
    await bot.services.add_customer("Tiny", CHANNEL, "business-support-professional")
    drafts = [
        ReportDraft(channel_id=CHANNEL, reporter_id=REPORTER, summary=f"s{i}", severity="sev4", priority="p4", idempotency_key=f"k{i}")
        for i in range(2)
    ]
    opened = await asyncio.gather(*(bot.services.open_ticket(d) for d in drafts))
    assert sorted(o.ticket.within_plan for o in opened) == [False, True]


async def test_two_replicas_do_not_overrun_the_quota(postgres_url: str) -> None:
    """Two bot processes (two engines, no shared lock) on one PostgreSQL: the row lock serializes the count."""
    from datetime import datetime, timezone

    from bot.services import ReportDraft, build_services
    from bot.settings import Settings
    from rules.clock import ManualClock
    from storage.db import upgrade

    settings = Settings(_env_file=None, database_url=postgres_url)
    clock = ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))
    replicas = [build_services(settings, clock=clock) for _ in range(2)]
    try:
        await upgrade(replicas[0].engine)
        await replicas[0].add_customer("Tiny", CHANNEL, "business-support-professional")
        drafts = [
            ReportDraft(channel_id=CHANNEL, reporter_id=REPORTER, summary=f"s{i}", severity="sev4", priority="p4", idempotency_key=f"k{i}")
            for i in range(2)
        ]
        opened = await asyncio.gather(*(r.open_ticket(d) for r, d in zip(replicas, drafts)))
        assert sorted(o.ticket.within_plan for o in opened) == [False, True]
    finally:
        for r in replicas:
            await r.close()
