"""Operating the bot: /metrics scraped from the running bot and parsed with prometheus_client's parser; /ready."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.health import Readiness, build_ops_app
from bot.services import build_services
from bot.settings import Settings
from storage.db import upgrade
from storage.models import SlaTimer
from tests.helpers import eventually
from tests.test_scheduler_e2e import thread_notices, ticket_with_oncall

M = timedelta(minutes=1)
PLAN, SEVERITY = "comarch-cci-premium", "business-critical"


async def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of `GET url` as {(name, sorted labels): value}, via prometheus_client's own parser."""
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=")
        text = await resp.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


async def eventually_scrape(url: str, check) -> dict:
    """Scrape until `check` holds: for work the bot counts just after Slack sees it (a failure bound, not a margin)."""
    for _ in range(250):
        m = await scrape(url)
        if check(m):
            return m
        await asyncio.sleep(0.02)
    raise AssertionError(f"{url} never showed it")


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def base(bot) -> str:
    return bot.url.removesuffix("/slack/events")


async def test_metrics_from_a_running_bot(scheduled_bot) -> None:
    bot = scheduled_bot
    msg = await ticket_with_oncall(bot)  # reported through /incident and the two modal steps
    bot.slack.fail_next("chat.postMessage", status=429, retry_after=1)  # the scheduler's post is rate limited once, then retried
    bot.clock.advance(29 * M)  # 2 minutes past the 90% reminder: the 50% and 75% ones fold into it
    await eventually(lambda: len(thread_notices(bot, msg)) == 1, timeout=15)
    bot.clock.advance(16 * M)  # 15 minutes past the first-response deadline: the level-1 escalation, late
    await eventually(lambda: len(thread_notices(bot, msg)) == 2)
    async with bot.services.sessions() as s:
        rows = list((await s.execute(select(SlaTimer))).scalars())
    folded = sum(1 for r in rows if r.state == "dropped" and (r.error or "").startswith("folded"))
    assert folded == 2

    # the post shows in Slack before the batch is recorded and counted: scrape until it is counted (a failure bound)
    m = await eventually_scrape(base(bot) + "/metrics", lambda m: value(m, "triage_timers_sent_total", kind="escalation"))
    assert value(m, "triage_tickets_opened_total", plan=PLAN, severity=SEVERITY) == 1
    assert value(m, "triage_timers_sent_total", kind="reminder") == 1
    assert value(m, "triage_timers_sent_total", kind="escalation") == 1
    assert value(m, "triage_timers_folded_total") == folded
    assert value(m, "triage_timers_due_total") >= 2 + folded
    assert value(m, "triage_timer_lateness_seconds_count") == 2
    assert value(m, "triage_timer_lateness_seconds_sum") == 2 * 60 + 15 * 60
    assert value(m, "triage_timer_lateness_seconds_bucket", le="120.0") == 1
    assert value(m, "triage_timer_lateness_seconds_bucket", le="300.0") == 1
    assert value(m, "triage_timer_lateness_seconds_bucket", le="900.0") == 2
    assert value(m, "triage_slack_api_calls_total", method="chat.postMessage", outcome="429") == 1
    assert value(m, "triage_slack_api_calls_total", method="chat.postMessage", outcome="ok") >= 2  # announcement, escalation
    assert value(m, "triage_slack_api_calls_total", method="views.open", outcome="ok") == 1
    assert value(m, "triage_slack_api_call_duration_seconds_count", method="chat.postMessage") >= 2
    assert value(m, "triage_listener_ack_duration_seconds_count", kind="command") == 1
    assert value(m, "triage_listener_ack_duration_seconds_count", kind="view_submission") == 2
    assert value(m, "triage_open_tickets", plan=PLAN) == 1
    assert value(m, "triage_breached_clocks", plan=PLAN) == 1  # first response, running past its deadline
    assert value(m, "triage_scheduler_tick_duration_seconds_count") >= 1
    assert value(m, "triage_scheduler_claimed_batch_size_count") >= 1
    assert value(m, "process_resident_memory_bytes") > 10_000_000
    assert ("triage_outbox_posts", (("state", "pending"),)) in m and value(m, "triage_outbox_posts", state="failed") == 0
    labels = {v for (_name, lab) in m for _k, v in lab}
    assert not any("INC-" in v or "Checkout" in v or v.startswith(("U0", "C0")) for v in labels), labels


async def test_two_apps_in_one_process_count_apart(bot, tmp_path: Path) -> None:
    """Each app has its own registry: a second app in this process starts at zero and does not clash."""
    other = build_services(Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/other.db"))
    other.metrics.tickets_opened.labels(plan=PLAN, severity=SEVERITY).inc()
    m = await scrape(base(bot) + "/metrics")
    assert value(m, "triage_tickets_opened_total", plan=PLAN, severity=SEVERITY) == 0
    await other.close()


async def test_ready_needs_current_migrations_and_slack_auth(database_url: str) -> None:
    services = build_services(Settings(_env_file=None, database_url=database_url))
    readiness = Readiness(slack_auth_ok=True)
    runner = web.AppRunner(build_ops_app(services, readiness))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]

    async def get(path: str) -> tuple[int, dict]:
        async with aiohttp.ClientSession() as http, http.get(url + path) as resp:
            return resp.status, await resp.json()

    try:
        assert await get("/health") == (200, {"ok": True})
        status, body = await get("/ready")  # an empty database: no migrations yet
        assert status == 503 and "run `triage-bot db upgrade`" in body["problems"][0], body
        await upgrade(services.engine)
        assert await get("/ready") == (200, {"ready": True, "problems": []})
        readiness.slack_auth_ok = False
        assert await get("/ready") == (503, {"ready": False, "problems": ["Slack auth.test has not succeeded"]})
        readiness.slack_auth_ok, readiness.stopping = True, True
        assert (await get("/ready"))[0] == 503
    finally:
        await runner.cleanup()
        await services.close()
