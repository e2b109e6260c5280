"""`/sla status`, `/sla ticket`, `/sla report` and the App Home through the real HTTP path, on both databases.

The fixture's clock starts on Mon 2026-11-30 09:00 UTC (10:00 in Berlin and Warsaw).
Tickets are opened through the services (quick), the commands go through Slack.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.services import ReportDraft, record_action
from storage.models import Ticket
from storage.reporting import open_tickets
from tests.helpers import CHANNEL, REPORT_WAIT, REPORTER, eventually, mrkdwn_texts, setup_workspace

MANAGER, RESPONDER, STRANGER = "U0MANAGER", "U0RESPONDER", "U0STRANGER"
ACME_CHANNEL, GLOBEX_CHANNEL = "C0ACME", "C0GLOBEX"


def team(bot) -> None:
    setup_workspace(bot)
    for uid, name in ((MANAGER, "maria"), (RESPONDER, "ron"), (STRANGER, "sam")):
        bot.slack.add_user(uid, name)
    bot.slack.add_channel(ACME_CHANNEL, "acme-support")
    bot.slack.add_channel(GLOBEX_CHANNEL, "globex-support")
    bot.services.settings.manager_user_ids = MANAGER
    bot.services.settings.responder_user_ids = RESPONDER


async def open_ticket(bot, summary: str, severity: str = "business-critical", channel: str = CHANNEL, reporter: str = REPORTER) -> Ticket:
    draft = ReportDraft(channel_id=channel, reporter_id=reporter, summary=summary, severity=severity)
    return (await bot.services.open_ticket(draft)).ticket


async def assign(bot, ticket_id: int, user: str) -> None:
    async with bot.services.sessions() as s:
        (await s.get(Ticket, ticket_id)).assignee_id = user
        await s.commit()


async def sla(bot, text: str, user: str, channel: str = CHANNEL) -> dict:
    """Run `/sla text` and return the first ephemeral reply it posts to the response_url."""
    n = len(bot.slack.response_posts)
    r = await bot.sender.slash_command("/sla", text, user, channel)
    assert r.status == 200 and not r.text  # acked at once, answered through the response_url
    await eventually(lambda: len(bot.slack.response_posts) > n, REPORT_WAIT)
    body = bot.slack.response_posts[n].body
    assert body.get("response_type") == "ephemeral"
    return body


def block_text(body: dict, block_id: str) -> str:
    """The mrkdwn of a block and of the sections that continue it (until the next block with an id)."""
    blocks = body["blocks"]
    start = next(i for i, b in enumerate(blocks) if b.get("block_id") == block_id)
    first = blocks[start]
    out = [first["text"]["text"] if "text" in first else "\n".join(f["text"] for f in first.get("fields", []))]
    for b in blocks[start + 1 :]:
        if b.get("block_id") or b["type"] != "section":
            break
        out.append(b["text"]["text"])
    return "\n".join(out)


def block_ids(body: dict) -> list[str]:
    return [b["block_id"] for b in body.get("blocks") or [] if b.get("block_id")]


def completed_files(bot) -> list:
    return [f for f in bot.slack.files.values() if f.completed]


# -- /sla status ---------------------------------------------------------------------------


async def test_status_empty_state_and_refusal(bot, caplog) -> None:
    team(bot)
    body = await sla(bot, "status", RESPONDER)
    assert "No open tickets" in body["text"] and block_ids(body) == ["status_empty"]
    with caplog.at_level(logging.WARNING):
        body = await sla(bot, "status", STRANGER)
    assert body["text"].startswith("Only responders and managers") and not body.get("blocks")
    assert any("refused /sla status from U0STRANGER" in r.getMessage() for r in caplog.records)


async def test_status_breached_then_at_risk_then_by_deadline(bot) -> None:
    team(bot)
    t1 = await open_ticket(bot, "<!channel> checkout & payments down")  # first response due 09:30
    await assign(bot, t1.id, RESPONDER)
    bot.clock.advance(timedelta(minutes=45))  # 09:45
    await open_ticket(bot, "Search is slow")  # due 10:15
    await open_ticket(bot, "How do I rotate keys?", severity="general-guidance")  # due tomorrow 09:45
    t4 = await open_ticket(bot, "Reports are late", severity="production-impaired")
    await record_action(bot.services, t4.id, "acknowledged", RESPONDER)  # Premium has no other target: nothing running
    t5 = await open_ticket(bot, "Fixed already", severity="production-impaired")
    await record_action(bot.services, t5.id, "resolved", RESPONDER)  # resolved: not on the board
    bot.clock.advance(timedelta(minutes=15))  # 10:00

    body = await sla(bot, "status", MANAGER)
    assert block_ids(body) == ["status_breached", "status_at_risk", "status_on_track", "status_no_deadline"]
    assert body["text"] == "SLA status: 4 open tickets (1 breached, 1 at risk, 1 on track, 1 no deadline)"
    breached = block_text(body, "status_breached")
    assert "*INC-1* &lt;!channel&gt; checkout &amp; payments down" in breached
    assert f"<@{RESPONDER}>" in breached and "first response late by 30m (due <!date^" in breached
    at_risk = block_text(body, "status_at_risk")
    assert "*INC-2* Search is slow · unassigned · first response 15m left" in at_risk
    assert "*INC-3*" in block_text(body, "status_on_track") and "23h 45m left" in block_text(body, "status_on_track")
    assert "*INC-4*" in block_text(body, "status_no_deadline") and "INC-5" not in str(body)
    assert not any("<!channel>" in t for t in mrkdwn_texts(body["blocks"]))

    # the bulk loader agrees with the services' own evaluation of each ticket
    for facts in (await open_tickets(bot.services, bot.clock.now())).tickets:
        own = await bot.services.status_of(await bot.services.get_ticket(facts.key))
        assert {n: (c.status, c.due) for n, c in own.clocks.items()} == {n: (c.status, c.due) for n, c in facts.status.clocks.items()}


# -- /sla ticket ---------------------------------------------------------------------------


async def test_ticket_timeline_with_verdicts(bot) -> None:
    team(bot)
    await bot.services.add_customer("ACME", ACME_CHANNEL, "commercetools-premium")
    t = await open_ticket(bot, "API errors <b>", severity="s1", channel=ACME_CHANNEL)  # first response 20m, updates every 30m
    bot.clock.advance(timedelta(minutes=10))  # 09:10: acknowledged, 10m early
    await record_action(bot.services, t.id, "acknowledged", RESPONDER)
    bot.clock.advance(timedelta(minutes=40))  # 09:50: the update due 09:40 comes 10m late
    await record_action(bot.services, t.id, "updated", RESPONDER, data={"text": "Rolled back <!here>"})
    bot.clock.advance(timedelta(minutes=5))  # 09:55
    await record_action(bot.services, t.id, "paused", RESPONDER, reason="the customer's logs")
    bot.clock.advance(timedelta(minutes=5))  # 10:00

    body = await sla(bot, "ticket inc-1", RESPONDER)
    assert body["blocks"][0]["text"]["text"] == "INC-1: API errors <b>"  # plain_text: shown literally
    fields = block_text(body, "ticket_fields")
    assert "Paused (waiting on the customer)" in fields and "commercetools Premium (ACME)" in fields and "unassigned" in fields
    deadlines = block_text(body, "ticket_deadlines")
    assert "First response: :white_check_mark: met, 10m early (responded <!date^" in deadlines
    assert "Update 1: :x: missed by 10m (ended <!date^" in deadlines  # due 09:40, updated 09:50
    assert "Update 2: :white_check_mark: met, 25m early (ended <!date^" in deadlines  # due 10:20, ended by the pause at 09:55
    assert "Next update: :double_vertical_bar: paused" in deadlines
    assert "Resolution: best effort (no target)" in deadlines
    timeline = block_text(body, "ticket_timeline")
    lines = [line for line in timeline.split("\n") if line.startswith("• <!date^")]
    assert [line.split("> ", 1)[1].split(" by ")[0].split(" *")[0] for line in lines] == [
        "reported",
        "classified as",
        "acknowledged",
        "update",
        "paused",
    ]
    assert f"reported by <@{REPORTER}> in <#{ACME_CHANNEL}>" in timeline
    assert f"update by <@{RESPONDER}>: “Rolled back &lt;!here&gt;”" in timeline
    assert "paused by <@U0RESPONDER> — waiting for: _the customer's logs_" in timeline
    assert not any("<!here>" in x or "<b>" in x for x in mrkdwn_texts(body["blocks"]))


async def test_ticket_errors_and_refusal(bot) -> None:
    team(bot)
    await open_ticket(bot, "Something")
    assert (await sla(bot, "ticket INC-99", RESPONDER))["text"] == ":x: no ticket INC-99"
    assert (await sla(bot, "ticket banana", MANAGER))[
        "text"
    ] == ":x: 'banana' is not a ticket id (like INC-42: INC- and a number from 1 to 2147483647)"
    assert "Which ticket? Use `/sla ticket INC-42`" in (await sla(bot, "ticket", MANAGER))["text"]
    assert (await sla(bot, "ticket INC-1", STRANGER))["text"].startswith("Only responders and managers")
    assert (await sla(bot, "ticket INC-1", REPORTER))["text"].startswith("Only responders and managers")


# -- /sla report ---------------------------------------------------------------------------


async def seed_report(bot) -> None:
    """ACME (commercetools Premium, no case limit): INC-1 acked in time, one late update, resolved; INC-2 never answered.
    Globex (business-support Enterprise, 2 cases a month): INC-3..5, one over quota."""
    await bot.services.add_customer("ACME", ACME_CHANNEL, "commercetools-premium")
    await bot.services.add_customer("Globex", GLOBEX_CHANNEL, "business-support-enterprise")
    t1 = await open_ticket(bot, "API errors", severity="s1", channel=ACME_CHANNEL)
    await open_ticket(bot, "Checkout 500s", severity="s1", channel=ACME_CHANNEL)  # first response due 09:20
    for i in range(3):
        await open_ticket(bot, f"Question {i}", severity="sev4", channel=GLOBEX_CHANNEL)
    bot.clock.advance(timedelta(minutes=10))
    await record_action(bot.services, t1.id, "acknowledged", RESPONDER)  # 09:10, due 09:20: met
    bot.clock.advance(timedelta(minutes=40))
    await record_action(bot.services, t1.id, "updated", RESPONDER)  # 09:50, due 09:40: 10m late
    bot.clock.advance(timedelta(minutes=10))
    await record_action(bot.services, t1.id, "resolved", RESPONDER, reason="fixed")  # 10:00


async def test_report_for_a_manager_with_chart_and_csv(bot) -> None:
    team(bot)
    await seed_report(bot)
    body = await sla(bot, "report", MANAGER)
    assert body["blocks"][0]["text"]["text"] == "SLA report 2026-11"
    total = block_text(body, "report_total")
    assert "*All tickets*: 5 tickets" in total and "First response met *50%* (1/2)" in total and "Breaches: 2" in total
    groups = [block_text(body, b) for b in block_ids(body) if b.startswith("report_group_")]
    assert len(groups) == 2  # business-support-enterprise/sev4, commercetools-premium/s1
    s1 = next(g for g in groups if "commercetools Premium" in g)
    # updates: 09:10 -> due 09:40, updated 09:50 (missed); 09:50 -> due 10:20, ended by the resolve at 10:00 (met)
    assert ": 2 tickets" in s1 and "First response met *50%* (1/2)" in s1 and "Updates met *50%* (1/2)" in s1
    assert "Time to acknowledge: median 10m, p90 10m · to resolve: median 1h, p90 1h" in s1
    assert "Breaches: INC-2 first response late by 40m (still open); INC-1 update 1 late by 10m" in s1  # by deadline
    sev4 = next(g for g in groups if "Enterprise" in g)
    assert ": 3 tickets" in sev4 and "Breaches: none" in sev4
    quota = block_text(body, "report_quota")
    assert "ACME: 2 cases in 2026-11 (no case limit)" in quota
    assert "Globex: 3 of 2 in 2026-11 (over, so far) :warning:" in quota

    files = await eventually(lambda: len(completed_files(bot)) == 2 and completed_files(bot), REPORT_WAIT)
    png, csv_file = sorted(files, key=lambda f: f.filename, reverse=True)
    assert png.filename == "sla-report-2026-11.png" and png.content.startswith(b"\x89PNG\r\n\x1a\n") and len(png.content) > 5000
    assert png.channels == [CHANNEL] and csv_file.channels == [CHANNEL]
    rows = list(csv.DictReader(io.StringIO(csv_file.content.decode())))
    assert [r["ticket"] for r in rows] == ["INC-1", "INC-2", "INC-3", "INC-4", "INC-5"]
    assert (rows[1]["customer"], rows[1]["first_response"], rows[1]["first_response_late_minutes"]) == ("ACME", "breached", "40.0")
    shared = [m for m in bot.slack.messages_in(CHANNEL) if m.files]
    assert {f["name"] for m in shared for f in m.files} == {"sla-report-2026-11.png", "sla-report-2026-11.csv"}
    assert all("SLA report 2026-11" in m.text for m in shared)
    assert [c.params.get("channel_id") for c in bot.slack.calls_to("files.completeUploadExternal")] == [CHANNEL]

    # filters: one customer (any case), one plan
    body = await sla(bot, "report --period this-month --customer acme", MANAGER)
    assert "customer ACME" in body["blocks"][1]["elements"][0]["text"]
    assert "*All tickets*: 2 tickets" in block_text(body, "report_total")
    assert block_text(body, "report_quota").count("• ") == 1
    body = await sla(bot, "report --plan=business-support-enterprise --period 2026-Q4", MANAGER)
    assert body["blocks"][0]["text"]["text"] == "SLA report 2026-Q4"
    assert "*All tickets*: 3 tickets" in block_text(body, "report_total")
    await eventually(lambda: len(completed_files(bot)) == 6, REPORT_WAIT)


async def test_report_refused_for_non_managers_admins_allowed(bot, caplog) -> None:
    team(bot)
    await seed_report(bot)
    with caplog.at_level(logging.WARNING):
        for user in (RESPONDER, STRANGER):
            body = await sla(bot, "report", user)
            assert body["text"] == "Only managers can run SLA reports. Ask a triage-bot admin to add you to MANAGER_USER_IDS."
    assert any("refused /sla report from U0RESPONDER: not a manager" in r.getMessage() for r in caplog.records)
    assert not bot.slack.calls_to("files.getUploadURLExternal")
    bot.slack.add_user("UADMIN", "ada")
    body = await sla(bot, "report", "UADMIN")  # admins are managers
    assert body["blocks"][0]["text"]["text"] == "SLA report 2026-11"


async def test_report_bad_arguments_say_what_is_valid(bot) -> None:
    team(bot)
    await bot.services.add_customer("ACME", ACME_CHANNEL, "commercetools-premium")
    forms = "this-month, last-month, this-quarter, last-quarter, YYYY-MM (e.g. 2026-11) or YYYY-Qn (e.g. 2026-Q4)"
    usage = "Usage: /sla report [--period this-month|last-month|this-quarter|last-quarter|YYYY-MM|YYYY-Qn] [--customer NAME] [--plan PLAN]"
    text = (await sla(bot, "report --period 2026-13", MANAGER))["text"]
    assert text.startswith(":x: '2026-13' is not a period; use " + forms) and usage in text
    text = (await sla(bot, "report --bogus 1", MANAGER))["text"]
    assert "Unknown option '--bogus'; the options are --period, --customer, --plan." in text and usage in text
    assert "--period needs a value" in (await sla(bot, "report --period", MANAGER))["text"]
    assert "Unexpected 'extra'" in (await sla(bot, "report last-month extra", MANAGER))["text"]
    text = (await sla(bot, 'report --customer "Big Co"', MANAGER))["text"]
    assert text == ":x: no customer named 'Big Co'; known customers: ACME"
    text = (await sla(bot, "report --plan gold", MANAGER))["text"]
    assert text.startswith(":x: unknown plan 'gold'; valid: blancco-sp1,") and "commercetools-premium" in text
    assert not bot.slack.calls_to("files.getUploadURLExternal")


async def test_report_files_go_to_a_dm_when_the_channel_refuses(bot) -> None:
    team(bot)
    await seed_report(bot)
    n = len(bot.slack.response_posts)
    await bot.sender.slash_command("/sla", "report", MANAGER, "C0NOTJOINED")  # a channel the bot cannot post in
    await eventually(lambda: len(bot.slack.response_posts) == n + 2, REPORT_WAIT)
    note = bot.slack.response_posts[n + 1].body["text"]
    assert note == "I could not post the chart and CSV here (invalid_channel), so I sent them to you in a direct message."
    files = await eventually(lambda: len(completed_files(bot)) == 2 and completed_files(bot), REPORT_WAIT)
    assert all(f.channels == ["D0MANAGER"] for f in files)


async def test_report_of_an_empty_period_uploads_nothing(bot) -> None:
    team(bot)
    await seed_report(bot)
    body = await sla(bot, "report 2026-01", MANAGER)
    assert block_text(body, "report_empty") == "No tickets were opened in 2026-01."
    assert "Globex: 0 of 2 in 2026-01 (within)" in block_text(body, "report_quota")
    assert not bot.slack.calls_to("files.getUploadURLExternal")


# -- /sla dispatch -------------------------------------------------------------------------


async def test_usage_lists_every_subcommand(bot) -> None:
    team(bot)
    for text in ("", "help", "bogus"):
        body = await sla(bot, text, STRANGER)
        for sub in ("customers list", "contacts add", "/sla status", "/sla ticket INC-42", "/sla report [--period"):
            assert sub in body["text"]
    assert body["text"].startswith("Unknown subcommand `bogus`.")
    assert (await sla(bot, 'report --customer "ACME', MANAGER))["text"].startswith(":x: Could not read the command")


# -- App Home ------------------------------------------------------------------------------


async def open_home(bot, user: str, tab: str = "home") -> None:
    await bot.sender.event(
        {"type": "app_home_opened", "user": user, "channel": "D" + user[1:], "tab": tab, "event_ts": "1764493200.000100"}
    )


async def test_app_home_dashboard(bot) -> None:
    team(bot)
    await open_ticket(bot, "Checkout <!here> down")  # REPORTER's, first response due 09:30
    t2 = await open_ticket(bot, "Slow search", severity="general-guidance", reporter=STRANGER)
    await assign(bot, t2.id, MANAGER)
    bot.clock.advance(timedelta(hours=1))  # 10:00: INC-1 breached

    await open_home(bot, MANAGER)
    await eventually(lambda: MANAGER in bot.slack.home_views)
    view = bot.slack.views[bot.slack.home_views[MANAGER]]
    assert view["type"] == "home"
    mine = block_text(view, "home_mine")
    assert "*INC-2* Slow search" in mine and "INC-1" not in mine
    risk = block_text(view, "home_risk")
    assert "*INC-1* Checkout &lt;!here&gt; down" in risk and "late by 30m" in risk and "INC-2" not in risk
    compliance = block_text(view, "home_compliance")
    assert "(2026-11)" in compliance and "2 tickets opened" in compliance and "first response met *0%* (0/1)" in compliance
    publish = bot.slack.calls_to("views.publish")[-1]
    assert publish.params["user_id"] == MANAGER

    await open_home(bot, REPORTER)  # not on the team: own tickets only
    await eventually(lambda: REPORTER in bot.slack.home_views)
    view = bot.slack.views[bot.slack.home_views[REPORTER]]
    assert "*INC-1*" in block_text(view, "home_mine")
    assert "home_risk" not in block_ids(view) and "home_compliance" not in block_ids(view)
    assert "shown to responders and managers" in json.dumps(view)
    assert not any("<!here>" in t for t in mrkdwn_texts(view["blocks"]))

    calls = len(bot.slack.calls_to("views.publish"))
    await open_home(bot, MANAGER, tab="messages")
    await open_home(bot, STRANGER)
    await eventually(lambda: STRANGER in bot.slack.home_views)
    assert len(bot.slack.calls_to("views.publish")) == calls + 1  # the messages tab publishes nothing


# -- the command line ----------------------------------------------------------------------


def test_cli_report(tmp_path: Path, monkeypatch, capsys) -> None:
    import asyncio

    from bot.cli import main
    from bot.services import build_services
    from bot.settings import Settings
    from rules.clock import ManualClock
    from storage.db import upgrade
    from tests.test_cli import run

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def seed() -> None:
        services = build_services(
            Settings(_env_file=None, database_url=url), clock=ManualClock(datetime(2026, 10, 5, 9, tzinfo=timezone.utc))
        )
        await upgrade(services.engine)
        await services.add_customer("ACME", ACME_CHANNEL, "commercetools-premium")
        t = (await services.open_ticket(ReportDraft(channel_id=ACME_CHANNEL, reporter_id=REPORTER, summary="x", severity="s1"))).ticket
        services.clock.advance(timedelta(minutes=30))
        await record_action(services, t.id, "acknowledged", RESPONDER)  # due 09:20: 10m late
        await services.close()

    asyncio.run(seed())
    # the real process, as a script would run it
    r = run("report", "--period", "2026-10", "--customer", "acme", "--json", env={"DATABASE_URL": url}, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["period"], data["customer"], data["total"]["tickets"]) == ("2026-10", "ACME", 1)
    assert data["groups"][0]["breaches"][0]["late_by_minutes"] == 10.0

    # the rest in-process: same entry point, quicker
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    csv_path, png_path = tmp_path / "r.csv", tmp_path / "r.png"
    assert main(["report", "--period", "2026-10", "--csv", str(csv_path), "--chart", str(png_path)]) == 0
    out = capsys.readouterr().out
    assert "SLA report 2026-10" in out and "first response met  0% (0/1)" in out
    assert "breach              INC-1 first response late by 10m" in out and "ACME: 1 case in 2026-10 (no case limit)" in out
    assert f"CSV written to {csv_path}" in out
    assert csv_path.read_text().startswith("ticket,customer,plan") and png_path.read_bytes().startswith(b"\x89PNG")

    for args, message in (
        (["--period", "2026-Q7"], "--period: '2026-Q7' is not a period; use this-month, last-month"),
        (["--customer", "Nobody"], "no customer named 'Nobody'; known customers: ACME"),
        (["--plan", "gold"], "unknown plan 'gold'; valid:"),
        (["--csv", str(tmp_path / "no" / "such" / "dir.csv")], "cannot write the CSV to"),
    ):
        assert main(["report", *args]) == 2
        assert message in capsys.readouterr().err
