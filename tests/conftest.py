from __future__ import annotations

import contextlib
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy.engine import make_url

from rules.clock import ManualClock
from rules.policy import PolicySet
from rules.policy_load import load_policies

pytest_plugins = ["tests.standin_fixtures"]  # the stand-in's own fixtures: slack, client, receiver

TEST_POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
SIGNING_SECRET = "test-signing-secret"


@pytest.fixture(scope="session")
def policies() -> PolicySet:
    return load_policies()


async def _postgres_available() -> str | None:
    import asyncpg

    url = make_url(TEST_POSTGRES_URL)
    try:
        conn = await asyncpg.connect(
            host=url.host, port=url.port or 5432, user=url.username, password=url.password, database=url.database, timeout=3
        )
    except Exception as e:  # noqa: BLE001 - any failure means "not here"
        return f"PostgreSQL not reachable at {url.render_as_string(hide_password=True)}: {e}"
    await conn.close()
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind; the PostgreSQL one is a new database per test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'triage.db'}"
        return
    async for url in _fresh_postgres():
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database, for tests of several processes sharing one."""
    async for url in _fresh_postgres():
        yield url


async def _fresh_postgres() -> AsyncIterator[str]:
    problem = await _postgres_available()
    if problem:
        if os.environ.get("TRIAGE_REQUIRE_POSTGRES"):
            pytest.fail(problem + " (TRIAGE_REQUIRE_POSTGRES is set: CI must run these tests)")
        pytest.skip(problem)
    import asyncpg

    base = make_url(TEST_POSTGRES_URL)
    name = f"triage_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(
        host=base.host, port=base.port or 5432, user=base.username, password=base.password, database=base.database
    )
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@dataclass
class RunningBot:
    slack: object  # SlackStandIn
    sender: object  # SlackSender
    services: object  # Services
    clock: ManualClock
    url: str
    client: object = None  # the bot's AsyncWebClient
    delivery: object = None  # the bot's bot.delivery.Delivery (owed posts)


@contextlib.asynccontextmanager
async def running_bot(database_url: str, **settings: Any) -> AsyncIterator[RunningBot]:
    """The real bot over HTTP on an ephemeral port, talking to the Slack stand-in; `settings` as the environment would."""
    from bot.app import InFlight, build_app, build_delivery, build_web_app
    from bot.health import Readiness
    from bot.services import build_services
    from bot.settings import Settings
    from storage.db import upgrade
    from tests.slack_standin import SlackSender, SlackStandIn

    async with SlackStandIn() as slack:
        config = Settings(
            _env_file=None,
            slack_bot_token=slack.bot_token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.api_url,
            database_url=database_url,
            default_plan="comarch-cci-premium",
            admin_user_ids="UADMIN",
            **settings,
        )
        clock = ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))
        # the statement bound as `run` has it
        services = build_services(config, clock=clock, statement_timeout=config.database_statement_timeout_seconds)
        await upgrade(services.engine)
        delivery = build_delivery(config, services)
        app = build_app(config, services, delivery=delivery)
        in_flight = InFlight()  # listeners bolt runs on after the ack: finished before the engine closes
        runner = web.AppRunner(build_web_app(app, services, Readiness(slack_auth_ok=True), in_flight))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}/slack/events"
        try:
            yield RunningBot(slack, SlackSender(url, SIGNING_SECRET, slack=slack), services, clock, url, app.client, delivery)
        finally:
            await runner.cleanup()
            await in_flight.wait(timeout=10)
            await services.close()
        # Whatever the test did, the bot sent nothing real Slack refuses (Block Kit limits, tests/slack_standin/blockkit.py).
        assert not slack.refusals, f"Slack would refuse: {slack.refusals}"


@pytest.fixture
async def bot(database_url: str) -> AsyncIterator[RunningBot]:
    """The real bot over HTTP on an ephemeral port, talking to the Slack stand-in."""
    async with running_bot(database_url) as running:
        yield running


@pytest.fixture
async def scheduled_bot(bot: RunningBot) -> AsyncIterator[RunningBot]:
    """The bot with its real APScheduler ticking fast; tests move `bot.clock` instead of sleeping."""
    from bot.scheduler import SlaScheduler, build_apscheduler

    sla = SlaScheduler(bot.services, bot.client, replica_id="test-replica", late_after=timedelta(seconds=60), delivery=bot.delivery)
    scheduler = build_apscheduler(sla, 0.05)
    scheduler.start()
    bot.sla = sla  # type: ignore[attr-defined]
    try:
        yield bot
    finally:
        # Drain first: APScheduler's shutdown cancels a running tick, which could then be cut off inside a
        # database call (with aiosqlite, a cancellation that can wait for ever on a closed connection's thread).
        await sla.drain()
        scheduler.shutdown(wait=False)
