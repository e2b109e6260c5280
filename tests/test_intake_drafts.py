"""The report wizard keeps its draft on the server: long text files fine, forged client state changes nothing.

Through the signed HTTP path against the stand-in, which refuses views over Slack's
limits (`private_metadata` 3,000 characters and the rest, tests/slack_standin/blockkit.py).
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import update

from storage.drafts import DRAFT_KEPT, PURGE_EVERY
from storage.models import Customer
from tests.helpers import (
    CHANNEL,
    REPORTER,
    announced_ticket,
    draft_saved,
    eventually,
    mrkdwn_texts,
    open_step1,
    select_value,
    setup_workspace,
    submit_step1,
)

ANSWERS = {"question_only": "no", "business_stopped": "yes", "important_functions_degraded": "no"}
POLISH = ("Zażółć gęślą jaźń! Żółta łódź źle płynęła, więc ćma już śpi. " * 30)[:1000]  # 2,902 characters as JSON
EMOJI = "🔥" * 231


async def file_report(bot, description: str, step1: dict | None = None, severity: str = "business-critical", reason: str = ""):
    view = step1 or await open_step1(bot, "Checkout is down")
    r = await submit_step1(bot, view, "Checkout is down", ANSWERS, description=description)
    assert r.status == 200 and r.json["response_action"] == "update", r.json
    assert not [c for c in bot.slack.calls if c.method.startswith("view_submission:")], "Slack refused step 2"
    step2 = bot.slack.views[view["id"]]
    values = {"severity": select_value(severity), "priority": select_value("p1"), "reason": {"value": reason}}
    r2 = await bot.sender.view_submission(step2, REPORTER, values)
    assert r2.status == 200, r2.body
    return r2, step2


async def test_long_polish_description_files_and_is_kept_whole(bot) -> None:
    setup_workspace(bot)
    r2, _ = await file_report(bot, POLISH)
    assert r2.json["response_action"] == "update"
    ticket = await announced_ticket(bot)
    assert ticket.description == POLISH


async def test_231_emoji_file_fine(bot) -> None:
    setup_workspace(bot)
    await file_report(bot, EMOJI)
    assert (await announced_ticket(bot)).description == EMOJI


async def test_message_shortcut_on_a_long_message_files(bot) -> None:
    setup_workspace(bot)
    long_text = "Payments fail with 502\n" + ("Każda płatność kartą kończy się błędem 502 & <timeout>. " * 90)
    msg = bot.slack.add_message(CHANNEL, long_text, user="U0CUSTOMER")
    r = await bot.sender.message_action("report_incident", REPORTER, CHANNEL, msg.ts)
    assert r.status == 200
    view = await eventually(lambda: bot.slack.last_view())
    await draft_saved(bot, view["id"])
    description = next(b for b in view["blocks"] if b.get("block_id") == "description")["element"]["initial_value"]
    assert long_text.startswith(description) and len(description) == 3000  # the input's own limit
    await file_report(bot, description, step1=view)
    ticket = await announced_ticket(bot)
    assert ticket.description == description and ticket.source_message_ts == msg.ts


async def test_forged_private_metadata_changes_nothing(bot) -> None:
    """A step 2 submission claiming another customer's channel, plan and suggestion is filed as the server knows it."""
    setup_workspace(bot)
    bot.slack.add_channel("C0BIGCO", "bigco")
    bot.slack.add_channel("C0BIGTRIAGE", "bigco-triage")
    await bot.services.add_customer("ACME", CHANNEL, "comarch-cci-basic")
    await bot.services.add_contact("ACME", REPORTER, primary=True)
    await bot.services.add_customer("BIGCO", "C0BIGCO", "comarch-cci-premium", "C0BIGTRIAGE")
    view = await open_step1(bot, "Checkout is down")
    r = await submit_step1(bot, view, "Checkout is down", ANSWERS)
    step2 = bot.slack.views[view["id"]]
    suggested = r.json["view"]["blocks"][0]["text"]["text"]
    assert "Business critical" in suggested or "business" in suggested.lower()
    forged = dict(
        step2,
        private_metadata=json.dumps(
            {
                "channel_id": "C0BIGCO",
                "plan_id": "comarch-cci-premium",
                "suggested": "general-guidance",
                "draft": {"summary": "<!channel> forged", "answers": {}},
            }
        ),
    )
    # Choosing another severity than the server's suggestion still needs a reason, whatever `suggested` claims.
    values = {"severity": select_value("general-guidance"), "priority": select_value("p1"), "reason": {"value": ""}}
    refused = await bot.sender.view_submission(forged, REPORTER, values)
    assert refused.json["response_action"] == "errors" and "reason" in refused.json["errors"]
    values["reason"] = {"value": "only a question really"}
    r2 = await bot.sender.view_submission(forged, REPORTER, values)
    assert r2.json["response_action"] == "update", r2.json
    ticket = await announced_ticket(bot)
    assert (ticket.channel_id, ticket.plan_id, ticket.announce_channel_id) == (CHANNEL, "comarch-cci-basic", CHANNEL)
    assert ticket.summary == "Checkout is down"
    assert ticket.suggested_severity == "business-critical" and ticket.severity == "general-guidance"
    classified = next(e for e in ticket.events if e.kind == "classified")
    assert classified.reason == "only a question really"
    assert not [m for m in bot.slack.messages if m.channel in ("C0BIGCO", "C0BIGTRIAGE")]


async def test_forged_severity_or_priority_gets_a_field_error(bot) -> None:
    setup_workspace(bot)
    view = await open_step1(bot, "Checkout is down")
    await submit_step1(bot, view, "Checkout is down", ANSWERS)
    step2 = bot.slack.views[view["id"]]
    for values, field in [
        ({"severity": select_value("sev1"), "priority": select_value("p1")}, "severity"),
        ({"severity": select_value("business-critical"), "priority": select_value("<!here>")}, "priority"),
    ]:
        r = await bot.sender.view_submission(step2, REPORTER, values)
        assert r.status == 200 and r.json["response_action"] == "errors" and field in r.json["errors"], r.json
        assert "<!here>" not in json.dumps(r.json)


async def test_a_plan_no_longer_loaded_is_a_clear_error_not_a_500(bot) -> None:
    setup_workspace(bot)
    await bot.services.add_customer("ACME", CHANNEL, "comarch-cci-basic")
    view = await open_step1(bot, "Checkout is down")
    await submit_step1(bot, view, "Checkout is down", ANSWERS)
    step2 = bot.slack.views[view["id"]]
    async with bot.services.sessions() as s:  # the operator removed the plan's file meanwhile
        await s.execute(update(Customer).values(plan_id="acme-gone"))
        await s.commit()
    values = {"severity": select_value("system-impaired"), "priority": select_value("p1"), "reason": {"value": ""}}
    r = await bot.sender.view_submission(step2, REPORTER, values)
    assert r.status == 200 and r.json["response_action"] == "errors"
    assert "plan is not loaded" in r.json["errors"]["priority"] and "acme-gone" in r.json["errors"]["priority"]


async def test_another_users_submission_of_my_view_is_refused(bot) -> None:
    setup_workspace(bot)
    bot.slack.add_user("U0OTHER", "olga")
    view = await open_step1(bot, "Checkout is down")
    values = {"summary": {"value": "not mine"}, "description": {"value": ""}, "service": {"value": ""}}
    r = await bot.sender.view_submission(view, "U0OTHER", values)
    assert r.json["response_action"] == "errors"


async def test_forged_button_value_is_not_echoed_raw(bot) -> None:
    setup_workspace(bot)
    bot.slack.add_user("U0RESPONDER", "ron")
    bot.services.settings.responder_user_ids = "U0RESPONDER"
    n = len(bot.slack.calls_to("chat.postEphemeral"))
    r = await bot.sender.block_action("ticket_acknowledge", "U0RESPONDER", value="<!channel> INC-1", channel_id=CHANNEL)
    assert r.status == 200
    reply = await eventually(lambda: bot.slack.calls_to("chat.postEphemeral")[n:])
    assert "<!channel>" not in reply[0].params["text"] and "&lt;!channel&gt;" in reply[0].params["text"]
    assert not [t for c in reply for t in mrkdwn_texts(c.params.get("blocks") or []) if "<!channel>" in t]


async def test_a_draft_older_than_a_week_is_forgotten_when_later_modals_open(bot) -> None:
    setup_workspace(bot)
    old = await open_step1(bot, "Checkout is down")
    bot.clock.advance(DRAFT_KEPT - timedelta(minutes=30))
    await open_step1(bot, "Search is slow")
    assert await bot.services.get_draft(old["id"], REPORTER) is not None  # not a week old yet
    bot.clock.advance(PURGE_EVERY)
    new = await open_step1(bot, "Mail bounces")
    assert await bot.services.get_draft(old["id"], REPORTER) is None
    assert await bot.services.get_draft(new["id"], REPORTER) is not None
