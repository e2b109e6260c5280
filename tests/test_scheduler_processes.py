"""Real bot processes on one PostgreSQL database: exactly once across replicas, and across kill -9.

The processes run on a clock the test sets (`tests/shifted_clock_run.py`): time
moves only when the test moves it, so no assertion depends on how fast this
machine starts a process or answers a request.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select, update

from bot.scheduler import METADATA_EVENT
from bot.services import ReportDraft, build_services
from bot.services.oncall import set_oncall
from bot.settings import Settings
from rules.clock import ManualClock
from storage.db import upgrade
from storage.models import OutboxPost, SlaTimer
from tests.conftest import SIGNING_SECRET
from tests.helpers import free_port, stop_process
from tests.shifted_clock_run import FileClock
from tests.slack_standin import SlackStandIn

CHANNEL = "C0INCIDENT"
REPO = Path(__file__).resolve().parent.parent


async def start_bot(slack: SlackStandIn, database_url: str, clock: FileClock, **extra: str) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SCHEDULER_"))}
    env.update(
        SLACK_BOT_TOKEN=slack.bot_token,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=database_url,
        PORT=str(free_port()),
        SCHEDULER_TICK_SECONDS="0.1",
        SCHEDULER_LEASE_SECONDS="2",
        PYTHONPATH=str(REPO),
    )
    env.update(extra)  # a test's own settings win
    # Logs go to a file: an undrained pipe would block the bot (and asyncio's wait()) once full.
    log_path = Path(os.environ.get("TRIAGE_TEST_LOG_DIR", tempfile.gettempdir())) / f"triage-bot-{env['PORT']}.log"
    log = open(log_path, "wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.shifted_clock_run",
        str(clock.path),
        "run",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=log,
    )
    proc.port, proc.log_path = int(env["PORT"]), log_path  # type: ignore[attr-defined]
    await wait_for(lambda: serving(env["PORT"], proc))  # its scheduler starts before it serves
    return proc


async def serving(port: str, proc: asyncio.subprocess.Process) -> bool:
    if proc.returncode is not None:
        raise AssertionError(f"triage-bot run exited with {proc.returncode} before serving (see its log)")
    try:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/health") as resp:
            return resp.status == 200
    except aiohttp.ClientError:
        return False


# Comarch Premium business-critical: first response due 30 minutes after opening,
# reminders at 50%, 75% and 90% (27 min), level-1 escalation at the deadline.
OPENED = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
AT_90_PERCENT = OPENED + timedelta(minutes=27)
AT_DEADLINE = OPENED + timedelta(minutes=30)
PAST_LEASE = timedelta(seconds=3)  # SCHEDULER_LEASE_SECONDS is 2


@pytest.fixture
def bots_clock(tmp_path: Path) -> FileClock:
    clock = FileClock(tmp_path / "bots-now.txt")
    clock.set(OPENED)
    return clock


async def open_tickets(database_url: str, count: int, thread: SlackStandIn | None = None, channels: tuple[str, ...] = (CHANNEL,)) -> None:
    """Comarch Premium business-critical tickets opened at OPENED, dealt round the channels."""
    settings = Settings(_env_file=None, database_url=database_url, default_plan="comarch-cci-premium")
    services = build_services(settings, clock=ManualClock(OPENED))
    try:
        await upgrade(services.engine)
        await set_oncall(services, "on-call", "UADMIN", user_id="U0ONCALL")
        for i in range(count):
            opened_ticket = await services.open_ticket(
                ReportDraft(
                    channel_id=channels[i % len(channels)],
                    reporter_id="U0REPORTER",
                    summary=f"outage {i}",
                    severity="business-critical",
                    priority="p1",
                )
            )
            if thread is not None:  # announced already: the owed announcement is settled, only timers post
                root = thread.add_message(CHANNEL, f"INC-{opened_ticket.ticket.id}", user="U0STANDBOT")
                await services.set_announcement(opened_ticket.ticket.id, CHANNEL, root.ts)
                async with services.sessions() as s:
                    await s.execute(
                        update(OutboxPost)
                        .where(OutboxPost.ticket_id == opened_ticket.ticket.id, OutboxPost.kind == "announcement")
                        .values(state="sent", sent_at=OPENED, message_channel=CHANNEL, message_ts=root.ts)
                    )
                    await s.commit()
    finally:
        await services.close()


async def timer_rows(database_url: str) -> list[SlaTimer]:
    services = build_services(Settings(_env_file=None, database_url=database_url))
    try:
        async with services.sessions() as s:
            return list((await s.execute(select(SlaTimer))).scalars())
    finally:
        await services.close()


def posted_timer_ids(slack: SlackStandIn) -> Counter:
    return Counter(
        m.metadata["event_payload"]["timer_id"] for m in slack.messages if (m.metadata or {}).get("event_type") == METADATA_EVENT
    )


async def wait_for(check, timeout: float = 60.0) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.2)


stop = stop_process  # SIGTERM, then SIGKILL after 20 s


@pytest.fixture(autouse=True)
def _logs_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_TEST_LOG_DIR", str(tmp_path))


async def wait_in_flight(slack: SlackStandIn, method: str, count: int) -> None:
    """Until the stand-in holds exactly `count` unanswered calls of `method`."""

    async def reached() -> bool:
        return slack.in_flight[method] == count

    await wait_for(reached)


async def test_two_replicas_post_every_notice_exactly_once(postgres_url: str, bots_clock: FileClock) -> None:
    async with SlackStandIn() as slack:
        # Slack takes about one post per second per channel (the stand-in too): 60 notices in one channel would
        # take a minute by Slack's own rule. This test is about claims across replicas, so the 60 tickets are
        # spread over 12 channels, 5 each (within the stand-in's burst).
        # Slack's per-channel limit is off here too: its 429s are answered with a backoff on the bots'
        # clock, which this test holds still, so a rate-limited notice would wait for ever (seen once in 3 runs).
        slack.set_post_rate(None, burst=5)
        channels = tuple(slack.add_channel(f"C0INC{n:02d}", f"incidents-{n}").id for n in range(12))
        await open_tickets(postgres_url, count=60, channels=channels)
        procs = [await start_bot(slack, postgres_url, bots_clock, SCHEDULER_BATCH_SIZE="7") for _ in range(2)]
        try:

            def all_sent(label: str):
                async def check() -> bool:
                    rows = await timer_rows(postgres_url)
                    return sum(1 for r in rows if r.label == label and r.state == "sent") == 60

                return check

            async def all_announced() -> bool:
                services = build_services(Settings(_env_file=None, database_url=postgres_url))
                try:
                    async with services.sessions() as s:
                        states = list((await s.execute(select(OutboxPost.state))).scalars())
                finally:
                    await services.close()
                return len(states) == 60 and set(states) == {"sent"}

            # Both replicas must take part, whatever the machine's load: the first batch of timers claimed is
            # held at Slack, so that replica's tick cannot claim more, until the other has claimed a batch too.
            bots_clock.set(OPENED + timedelta(minutes=1))  # the tickets' owed announcements go out first, no timer yet
            await wait_for(all_announced)
            slack.hold("chat.postMessage")
            bots_clock.set(AT_90_PERCENT)  # 50% and 75% are folded into the 90% reminder

            async def both_claimed() -> bool:
                return len({r.claimed_by for r in await timer_rows(postgres_url) if r.claimed_by}) == 2

            await wait_for(both_claimed)
            slack.release("chat.postMessage")
            await wait_for(all_sent("90%"))
            bots_clock.set(AT_DEADLINE)
            await wait_for(all_sent("level 1"))
        finally:
            for p in procs:
                await stop(p)
        rows = await timer_rows(postgres_url)
        sent = {r.id for r in rows if r.state == "sent"}
        posted = posted_timer_ids(slack)
        assert set(posted) == sent
        assert max(posted.values()) == 1, [t for t, n in posted.items() if n > 1]
        assert len(sent) == 120  # per ticket: the folded reminder and the level-1 escalation
        replicas = {r.claimed_by for r in rows if r.claimed_by}
        assert len(replicas) == 2, f"both replicas should have worked: {replicas}"


async def test_kill_9_mid_post_then_restart_posts_once(postgres_url: str, bots_clock: FileClock) -> None:
    """kill -9 after Slack accepted a post but before it was recorded; then kill -9 before Slack had one."""
    async with SlackStandIn() as slack:
        slack.add_channel(CHANNEL, "incidents")
        await open_tickets(postgres_url, count=1, thread=slack)

        async def row_in(label: str, state: str) -> bool:
            return any(r.label == label and r.state == state for r in await timer_rows(postgres_url))

        # 1. The overdue reminder is claimed and posted; Slack keeps it, the bot dies before recording it.
        slack.hold("chat.postMessage")
        first = await start_bot(slack, postgres_url, bots_clock)
        bots_clock.set(AT_90_PERCENT)
        await wait_for(lambda: row_in("90%", "claimed"))
        await wait_in_flight(slack, "chat.postMessage", 1)  # the post is at the stand-in
        first.kill()
        await first.wait()
        slack.release("chat.postMessage")
        await wait_in_flight(slack, "chat.postMessage", 0)  # the stand-in completes the post: Slack accepted it
        assert sum(posted_timer_ids(slack).values()) == 1

        # 2. A new process reclaims it after the lease, finds it in the thread, does not post it again.
        bots_clock.advance(PAST_LEASE)
        second = await start_bot(slack, postgres_url, bots_clock)
        try:
            await wait_for(lambda: row_in("90%", "sent"))
            assert sum(posted_timer_ids(slack).values()) == 1
            # 3. The escalation at the deadline is claimed, and the process dies before Slack has it.
            slack.hold("chat.postMessage")
            bots_clock.set(AT_DEADLINE)
            await wait_for(lambda: row_in("level 1", "claimed"))
            await wait_in_flight(slack, "chat.postMessage", 1)
        finally:
            second.kill()
            await second.wait()
        slack.fail_next("chat.postMessage", status=500)  # the held post is answered 500: Slack keeps nothing
        slack.release("chat.postMessage")
        await wait_in_flight(slack, "chat.postMessage", 0)
        assert sum(posted_timer_ids(slack).values()) == 1  # the escalation never reached Slack

        # 4. The next process reclaims and posts it, once.
        bots_clock.advance(PAST_LEASE)
        third = await start_bot(slack, postgres_url, bots_clock)
        try:
            await wait_for(lambda: row_in("level 1", "sent"))
        finally:
            await stop(third)
        posted = posted_timer_ids(slack)
        rows = await timer_rows(postgres_url)
        assert set(posted) == {r.id for r in rows if r.state == "sent"}
        assert sorted(posted.values()) == [1, 1]


async def test_rate_limited_post_is_not_taken_over_and_posted_twice(postgres_url: str, bots_clock: FileClock) -> None:
    """Issue 11: two replicas, lease 5 s, two 429s with Retry-After 3. slack_sdk sleeps out each Retry-After
    holding the timer; its lease used to run out meanwhile, the other replica took the timer over, found
    nothing in the thread and posted, then the sleeper's retry posted too.

    Time moves in 1 s steps, as it would while the attempt waits; while an attempt holds the timer, the next
    step waits until the holder has extended its lease (the heartbeat). Without one, the wait fails.
    """
    async with SlackStandIn() as slack:
        slack.add_channel(CHANNEL, "incidents")
        slack.set_post_rate(None, burst=1)
        await open_tickets(postgres_url, count=1, thread=slack)
        procs = [await start_bot(slack, postgres_url, bots_clock, SCHEDULER_LEASE_SECONDS="5") for _ in range(2)]
        try:
            slack.fail_next("chat.postMessage", status=429, retry_after=3, times=2)
            bots_clock.set(AT_90_PERCENT)

            async def reminder() -> SlaTimer | None:
                return next((r for r in await timer_rows(postgres_url) if r.label == "90%"), None)

            async def step() -> bool:
                row = await reminder()
                if row is None:
                    return False
                if row.state == "sent":
                    return True
                now = bots_clock.now()
                if row.state == "claimed" and row.lease_until is not None and row.lease_until - now < timedelta(seconds=4.5):
                    return False  # the holder has not extended its lease since the last step: wait for it
                bots_clock.advance(timedelta(seconds=1))
                return False

            await wait_for(step)
        finally:
            for p in procs:
                await stop(p)
        assert sum(c.status == 429 for c in slack.calls_to("chat.postMessage")) == 2
        posted = posted_timer_ids(slack)
        assert posted and max(posted.values()) == 1, posted
