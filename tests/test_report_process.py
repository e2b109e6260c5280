"""A big `/sla report` is built in a child process (bot.report_process); what the manager gets is the same.

Through signed HTTP on both databases: the same report is made in the bot and in a child, and the
message, the CSV and the chart must be equal. Then the child's failures: a database it cannot open
is "try again", any other error is the one error reply, and neither leaves a process behind.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest

import bot.runner
import handlers.managers
from bot.report_process import REPORT_DATABASE_DOWN, ReportJob, ReportMessage, files_in_child
from bot.settings import Settings
from rules.errors import Unavailable
from rules.periods import parse_period
from tests.conftest import SIGNING_SECRET
from tests.helpers import CHANNEL, REPORT_WAIT, eventually, free_port
from tests.slack_standin import SlackSender, SlackStandIn
from tests.test_managers_e2e import MANAGER, completed_files, seed_report, team

UTC = timezone.utc


async def _report(bot, text: str) -> tuple[dict, dict[str, bytes]]:
    """`/sla report …` as a manager: the reply and its uploaded files by name."""
    before = {id(f) for f in completed_files(bot)}
    n = len(bot.slack.response_posts)
    r = await bot.sender.slash_command("/sla", text, MANAGER, CHANNEL)
    assert r.status == 200 and not r.text
    body = (await eventually(lambda: bot.slack.response_posts[n:], REPORT_WAIT))[0].body
    new = await eventually(lambda: len(fresh := [f for f in completed_files(bot) if id(f) not in before]) == 2 and fresh, REPORT_WAIT)
    return body, {f.filename: f.content for f in new}


async def test_a_report_built_in_a_child_equals_the_one_built_in_the_bot(bot, monkeypatch) -> None:
    team(bot)
    await seed_report(bot)
    spawned: list[ReportJob] = []

    async def counted(job: ReportJob, send):  # type: ignore[no-untyped-def]
        spawned.append(job)
        return await files_in_child(job, send)

    monkeypatch.setattr(handlers.managers, "files_in_child", counted)
    monkeypatch.setattr(handlers.managers, "CHILD_REPORT", 10**9)
    in_bot, in_bot_files = await _report(bot, "report --period this-month")
    assert not spawned
    monkeypatch.setattr(handlers.managers, "CHILD_REPORT", 5)  # the period has 5 tickets
    in_child, in_child_files = await _report(bot, "report --period this-month")
    assert len(spawned) == 1 and spawned[0].database_url == bot.services.settings.database_url
    assert in_child == in_bot
    assert sorted(in_child_files) == ["sla-report-2026-11.csv", "sla-report-2026-11.png"]
    assert in_child_files["sla-report-2026-11.csv"] == in_bot_files["sla-report-2026-11.csv"]
    assert in_child_files["sla-report-2026-11.png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert in_child_files["sla-report-2026-11.png"][16:24] == in_bot_files["sla-report-2026-11.png"][16:24]  # same size

    # a filtered one, in the child too
    monkeypatch.setattr(handlers.managers, "CHILD_REPORT", 2)  # ACME has 2
    in_child, _ = await _report(bot, "report --customer acme")
    assert "customer ACME" in in_child["blocks"][1]["elements"][0]["text"] and len(spawned) == 2


def _job(database_url: str, policies, plan_id: str | None = None) -> ReportJob:
    now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    return ReportJob(database_url, policies, parse_period("2026-11", now), now, None, plan_id)


async def _unexpected(message: ReportMessage) -> None:
    raise AssertionError(f"no report message was expected, got {message}")


async def test_a_child_that_cannot_open_the_database_says_try_again(bot, tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'triage.db'}"
    with pytest.raises(Unavailable, match="^Could not make the report just now: the database is not answering"):
        await files_in_child(_job(url, bot.services.policies), _unexpected)


async def test_a_child_that_fails_is_an_error_with_its_traceback_logged(bot, capfd) -> None:
    # A plan the bot would have refused before starting a child: here the child meets it, and fails.
    with pytest.raises(RuntimeError, match="the report process exited with 1"):
        await files_in_child(_job(bot.services.settings.database_url, bot.services.policies, plan_id="no-such-plan"), _unexpected)
    assert "report 2026-11 failed" in capfd.readouterr().err


async def test_a_child_failing_through_the_bot_gets_the_one_error_reply(bot, monkeypatch, caplog) -> None:
    team(bot)
    await seed_report(bot)
    monkeypatch.setattr(handlers.managers, "CHILD_REPORT", 1)
    monkeypatch.setattr(bot.services.settings, "database_url", "sqlite+aiosqlite:////no-such-folder/triage.db")
    with caplog.at_level(logging.WARNING):
        n = len(bot.slack.response_posts)
        await bot.sender.slash_command("/sla", "report", MANAGER, CHANNEL)
        body = (await eventually(lambda: bot.slack.response_posts[n:], REPORT_WAIT))[0].body
    assert body["text"] == ":hourglass_flowing_sand: " + REPORT_DATABASE_DOWN
    assert not completed_files(bot)


async def test_a_report_whose_wait_is_cancelled_leaves_no_child(bot, monkeypatch) -> None:
    started: list[asyncio.subprocess.Process] = []
    spawn = asyncio.create_subprocess_exec

    async def recorded(*args, **kwargs):  # type: ignore[no-untyped-def]
        started.append(await spawn(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(asyncio, "create_subprocess_exec", recorded)
    task = asyncio.create_task(files_in_child(_job(bot.services.settings.database_url, bot.services.policies), _unexpected))
    while not started:
        await asyncio.sleep(0.01)
    task.cancel()  # as when the bot stops mid-report
    with pytest.raises(asyncio.CancelledError):
        await task
    assert started[0].returncode is not None  # killed and reaped, not left running


async def test_files_that_fail_after_the_answer_say_what_is_missing(bot, monkeypatch, caplog) -> None:
    import bot.report_process as report_process

    team(bot)
    await seed_report(bot)

    def broken(report):  # type: ignore[no-untyped-def]
        raise MemoryError("chart")

    monkeypatch.setattr(report_process, "report_files", broken)
    monkeypatch.setattr(handlers.managers, "CHILD_REPORT", 10**9)  # in the bot, where the patch applies
    n = len(bot.slack.response_posts)
    with caplog.at_level(logging.ERROR):
        await bot.sender.slash_command("/sla", "report", MANAGER, CHANNEL)
        answer, missing = [
            p.body["text"] for p in await eventually(lambda: len(bot.slack.response_posts) >= n + 2 and bot.slack.response_posts[n:])
        ]
    assert answer.startswith("SLA report 2026-11")
    assert missing == (
        ":warning: The chart and CSV could not be attached (MemoryError). "
        "`triage-bot report --period 2026-11 --csv FILE --chart FILE` gives the same files."
    )
    assert "could not make or upload the report files" in caplog.text and not completed_files(bot)


@pytest.mark.parametrize("figures_sent", [False, True], ids=["before-the-figures", "after-the-figures"])
async def test_a_report_cut_off_by_a_stop_tells_the_manager(tmp_path: Path, monkeypatch, caplog, figures_sent: bool) -> None:
    """`triage-bot run` stopping while a report is being made: once the listeners' grace is over the report is
    cancelled (its child killed, above), and the manager is told so instead of waiting for an answer that never comes."""
    started = asyncio.Event()

    async def endless(job: ReportJob, send):  # type: ignore[no-untyped-def]
        if figures_sent:
            await send(ReportMessage("SLA report 2026-11: 80% met", []))
        started.set()
        await asyncio.Event().wait()  # a child still working when the stop comes

    async def one_ticket(*_args) -> int:  # type: ignore[no-untyped-def]
        return 1  # so the report is made in a child process

    monkeypatch.setattr(handlers.managers, "files_in_child", endless)
    monkeypatch.setattr(handlers.managers, "period_size", one_ticket)
    monkeypatch.setattr(bot.runner, "LISTENER_GRACE_SECONDS", 0.2)
    async with SlackStandIn() as slack:
        slack.add_channel(CHANNEL, "incidents")
        slack.add_user(MANAGER, "maria")
        port = free_port()
        settings = Settings(
            _env_file=None,
            slack_bot_token=slack.bot_token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.api_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db",
            port=port,
            manager_user_ids=MANAGER,
            scheduler_enabled=False,
        )
        stop = asyncio.Event()
        serving = asyncio.create_task(bot.runner.serve(settings, stop))
        try:
            sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, slack=slack)
            for _ in range(300):
                try:
                    r = await sender.slash_command("/sla", "report --period 2026-11", MANAGER, CHANNEL)
                    break
                except OSError:  # not listening yet
                    await asyncio.sleep(0.05)
            assert r.status == 200
            await asyncio.wait_for(started.wait(), REPORT_WAIT)
            with caplog.at_level(logging.WARNING):
                stop.set()
                await asyncio.wait_for(serving, 30)
        finally:
            stop.set()
            await asyncio.wait_for(serving, 30)
        answers = [p.body["text"] for p in slack.response_posts]
        assert not slack.refusals, f"Slack would refuse: {slack.refusals}"  # the notice passes Block Kit checks as Slack makes them
    if figures_sent:
        assert answers == [
            "SLA report 2026-11: 80% met",
            ":warning: The chart and CSV could not be attached (triage-bot is restarting). "
            "`triage-bot report --period 2026-11 --csv FILE --chart FILE` gives the same files.",
        ]
    else:
        assert answers == [
            ":warning: triage-bot is restarting and stopped making the 2026-11 report before it was ready. "
            "Run `/sla report --period 2026-11` again in a minute."
        ]
    assert "the 2026-11 report for U0MANAGER was cut off by the bot stopping" in caplog.text
