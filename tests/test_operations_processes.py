"""Operating real `triage-bot run` processes: JSON logs read back, SIGTERM mid-batch on two replicas."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

from bot.logs import bound, configure_logging
from bot.services import ReportDraft, build_services
from bot.settings import Settings
from rules.clock import ManualClock
from storage.db import upgrade
from tests.conftest import SIGNING_SECRET
from tests.helpers import REPORTER, eventually, report, setup_workspace, sla
from tests.shifted_clock_run import FileClock
from tests.slack_standin import SlackSender, SlackStandIn
from tests.test_scheduler_processes import (
    AT_90_PERCENT,
    CHANNEL,
    OPENED,
    _logs_in_tmp,
    bots_clock,
    posted_timer_ids,
    start_bot,
    stop,
    timer_rows,
    wait_for,
)

__all__ = ["_logs_in_tmp", "bots_clock"]  # fixtures shared with the scheduler's process tests

RESPONDER = "U0ONCALL"
CONCURRENCY = 32  # SlaScheduler's posts at once per replica
TYPED_SUMMARY = "Checkout down ZEBRA-TYPED-SUMMARY"
TYPED_UPDATE = "customer says PRIVATE-TYPED-UPDATE"


def process_bot(slack: SlackStandIn, proc, database_url: str) -> SimpleNamespace:
    """What tests.helpers drive a bot through, for a bot in another process (its database read directly)."""
    sender = SlackSender(f"http://127.0.0.1:{proc.port}/slack/events", SIGNING_SECRET, slack=slack)
    return SimpleNamespace(slack=slack, sender=sender, services=build_services(Settings(_env_file=None, database_url=database_url)))


def json_lines(path) -> list[dict]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # every line is one JSON object, or this raises


async def test_json_logs_from_a_real_process(database_url: str, bots_clock: FileClock) -> None:
    async with SlackStandIn() as slack:
        proc = await start_bot(slack, database_url, bots_clock, LOG_FORMAT="json", RESPONDER_USER_IDS=RESPONDER)
        bot = process_bot(slack, proc, database_url)
        try:
            setup_workspace(bot)
            slack.add_user(RESPONDER, "olga")
            r, _ = await report(bot, summary=TYPED_SUMMARY)
            assert r.status == 200
            await eventually(lambda: any("INC-1" in (m.text or "") for m in slack.messages_in(CHANNEL)), timeout=15)
            bots_clock.set(AT_90_PERCENT)  # the first-response reminder goes out (the scheduler logs it)
            await wait_for(lambda: _any_sent(database_url), timeout=30)
            assert "INC-1" in await sla(bot, f"update INC-1 {TYPED_UPDATE}", RESPONDER)
        finally:
            await stop(proc)
            await bot.services.close()
        records = json_lines(proc.log_path)
    assert records and all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert all(r["time"].endswith("+00:00") for r in records)
    opened = next(r for r in records if r["message"].startswith("INC-1 opened"))
    assert (opened["ticket"], opened["team_id"], opened["channel_id"], opened["user_id"]) == ("INC-1", slack.team_id, CHANNEL, REPORTER)
    assert opened["level"] == "INFO" and opened["logger"] == "bot.services.intake"
    updated = next(r for r in records if r["message"] == f"INC-1 updated by {RESPONDER}")
    assert (updated["ticket"], updated["user_id"]) == ("INC-1", RESPONDER)
    sent = next(r for r in records if r["message"].startswith("sent "))
    assert sent["ticket"] == "INC-1" and isinstance(sent["timer_id"], int) and sent["channel_id"] == CHANNEL
    text = proc.log_path.read_text()
    for secret in (slack.bot_token, SIGNING_SECRET, "ZEBRA-TYPED-SUMMARY", "PRIVATE-TYPED-UPDATE"):
        assert secret not in text


async def _any_sent(database_url: str) -> bool:
    return any(r.state == "sent" for r in await timer_rows(database_url))


def test_tokens_and_secrets_are_masked_in_every_message(capsys) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "json", secrets=["the-signing-secret-value"])
        with bound(ticket="INC-7", timer_id=3):
            logging.getLogger("x").warning("auth with %s and %s", "xoxb-123-456-abcDEF", "the-signing-secret-value")
        logging.getLogger("x").info("app token xapp-1-A0-123-zz")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    first, second = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert first["message"] == "auth with xoxb-*** and ***" and (first["ticket"], first["timer_id"]) == ("INC-7", 3)
    assert second["message"] == "app token xapp-***" and "ticket" not in second


AT_50_PERCENT = OPENED + timedelta(minutes=15)  # one reminder per ticket comes due


async def test_sigterm_mid_batch_on_two_replicas(postgres_url: str, bots_clock: FileClock) -> None:
    """SIGTERM while a replica posts a batch: posts under way finish, the rest is released and the other replica
    sends it at once (the bots' clock never moves past the lease), nothing lost, nothing doubled, exit 0 within 10 s."""
    async with SlackStandIn() as slack:
        await open_tickets_in_channels(slack, postgres_url, count=90)  # the scheduler posts one at a time per channel
        procs = [await start_bot(slack, postgres_url, bots_clock, SCHEDULER_BATCH_SIZE="60") for _ in range(2)]
        by_replica = {f"{socket.gethostname()}-{p.pid}": p for p in procs}
        try:
            bots_clock.set(OPENED + timedelta(minutes=1))  # the tickets' owed announcements (the outbox) go out first
            await wait_for(lambda: _announced(slack, 90))
            slack.delay("chat.postMessage", 3.0)  # the reminders' batch is being posted when SIGTERM comes
            bots_clock.set(AT_50_PERCENT)

            async def one_holds_more_than_it_posts_at_once() -> bool:
                held = Counter(r.claimed_by for r in await timer_rows(postgres_url) if r.state == "claimed")
                return any(n > CONCURRENCY for n in held.values()) and slack.in_flight["chat.postMessage"] >= CONCURRENCY

            await wait_for(one_holds_more_than_it_posts_at_once)
            rows = await timer_rows(postgres_url)
            held = Counter(r.claimed_by for r in rows if r.state == "claimed")
            victim_id = max(held, key=held.__getitem__)
            victim = by_replica[victim_id]
            survivor_id = next(r for r in by_replica if r != victim_id)
            victim_claims = {r.id for r in rows if r.state == "claimed" and r.claimed_by == victim_id}
            victim.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(victim.wait(), 10) == 0

            async def all_sent() -> bool:
                return sum(1 for r in await timer_rows(postgres_url) if r.label == "50%" and r.state == "sent") == 90

            await wait_for(all_sent)  # on the same clock: only a released lease lets the survivor take them
        finally:
            for p in procs:
                await stop(p)
        rows = await timer_rows(postgres_url)
    sent = {r.id: r for r in rows if r.state == "sent"}
    posted = posted_timer_ids(slack)
    assert set(posted) == set(sent) and max(posted.values()) == 1  # nothing lost, nothing doubled
    finished_by_victim = {i for i in victim_claims if sent[i].claimed_by == victim_id}
    taken_over = {i for i in victim_claims if sent[i].claimed_by is not None and sent[i].claimed_by == survivor_id}
    assert len(finished_by_victim) >= CONCURRENCY - 2 and taken_over, (len(finished_by_victim), len(taken_over))
    assert finished_by_victim | taken_over == victim_claims
    assert all(sent[i].attempts == 1 for i in taken_over)  # released, not expired: no look-up of the thread needed
    assert f"released {len(taken_over)} claimed timers" in victim.log_path.read_text()


async def test_sigterm_lets_a_request_in_progress_finish(database_url: str, bots_clock: FileClock) -> None:
    """A report submitted just before SIGTERM is still announced and recorded: the bot finishes it before exiting."""
    async with SlackStandIn() as slack:
        proc = await start_bot(slack, database_url, bots_clock)
        bot = process_bot(slack, proc, database_url)
        try:
            setup_workspace(bot)
            slack.delay("chat.postMessage", 2.0)
            submitted = asyncio.ensure_future(report(bot))
            await wait_for(lambda: _in_flight(slack, "chat.postMessage"))  # the announcement is at Slack
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), 10) == 0
            r, _ = await submitted
            assert r.status == 200
        finally:
            await stop(proc)
            await bot.services.close()
    services = build_services(Settings(_env_file=None, database_url=database_url))
    try:
        ticket = await services.get_ticket("INC-1")
    finally:
        await services.close()
    assert ticket.thread_ts and slack.find_message(CHANNEL, ticket.thread_ts) is not None


async def _announced(slack: SlackStandIn, count: int) -> bool:
    return sum(1 for m in slack.messages if not m.thread_ts) >= count


async def open_tickets_in_channels(slack: SlackStandIn, database_url: str, count: int) -> None:
    """Comarch Premium business-critical tickets opened at OPENED, each reported in its own channel."""
    services = build_services(
        Settings(_env_file=None, database_url=database_url, default_plan="comarch-cci-premium"), clock=ManualClock(OPENED)
    )
    try:
        await upgrade(services.engine)
        for i in range(count):
            channel = f"C0CH{i:04d}"
            slack.add_channel(channel, f"incidents-{i}")
            await services.open_ticket(
                ReportDraft(
                    channel_id=channel, reporter_id="U0REPORTER", summary=f"outage {i}", severity="business-critical", priority="p1"
                )
            )
    finally:
        await services.close()


async def _in_flight(slack: SlackStandIn, method: str) -> bool:
    return slack.in_flight[method] > 0
