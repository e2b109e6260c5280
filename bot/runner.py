"""`triage-bot run`: migrate, check the token, serve HTTP (or Socket Mode with SLACK_APP_TOKEN)."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from datetime import timedelta
from typing import Any, Awaitable

from aiohttp import web
from slack_sdk.errors import SlackApiError

from bot.app import InFlight, TimedSocketModeHandler, build_app, build_delivery, build_slack_client, build_slack_session, build_web_app
from bot.delivery import slack_error_code
from bot.health import Readiness, build_ops_app
from bot.scheduler import SlaScheduler, build_apscheduler
from bot.services import Services, build_services
from bot.settings import Settings
from rules.errors import ConfigError
from rules.policy import PolicySet
from storage.db import create_engine, explain_connect_error, sqlite_folder_problem, upgrade

log = logging.getLogger(__name__)


# SIGTERM to exit within 10 s: requests and the scheduler's running batch finish in parallel.
HTTP_GRACE_SECONDS = 5.0
LISTENER_GRACE_SECONDS = 3.0
LISTENER_CANCEL_SECONDS = 1.5  # then cancelled: time to tell their user (`/sla report`) before the clients close
DRAIN_SECONDS = 7.0


class StartupError(ConfigError):
    """One line telling the operator what to set."""


def check_settings(settings: Settings) -> None:
    if not settings.slack_bot_token:
        raise StartupError("SLACK_BOT_TOKEN is not set: set it to the app's Bot User OAuth Token (xoxb-...)")
    if not settings.slack_bot_token.startswith("xoxb-"):
        raise StartupError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
    if settings.slack_app_token:
        if not settings.slack_app_token.startswith("xapp-"):
            raise StartupError("SLACK_APP_TOKEN must be an app-level token starting with xapp- (or unset it for HTTP mode)")
    elif not settings.slack_signing_secret:
        raise StartupError("SLACK_SIGNING_SECRET is not set: set it to the app's Signing Secret (or set SLACK_APP_TOKEN for Socket Mode)")


def check_port(port: int, name: str = "PORT") -> None:
    """The port (`PORT`, or `METRICS_PORT` in Socket Mode) must be free before anything starts (migrations,
    the scheduler), so a clash is one line."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError as e:
            raise StartupError(
                f"{name} {port} cannot be used ({e.strerror or e}): stop what listens there, or set {name} to a free port"
            ) from None


def check_default_plan(settings: Settings, policies: PolicySet) -> None:
    """DEFAULT_PLAN must name a loaded plan: reporters in unmapped channels would otherwise get nowhere."""
    if settings.default_plan not in policies.plans:
        raise StartupError(f"DEFAULT_PLAN={settings.default_plan!r} is not a loaded plan; valid: {', '.join(sorted(policies.plans))}")


async def migrate(settings: Settings, services: Services) -> None:
    """Apply migrations; a database that cannot be opened stops the start with one line saying what to do."""
    if problem := sqlite_folder_problem(settings.database_url):
        raise StartupError(problem)
    engine = create_engine(settings.database_url)  # no statement bound: a data migration may take minutes
    try:
        await upgrade(engine, policies=services.policies)
    except Exception as e:
        hint = explain_connect_error(settings.database_url, e)
        if hint is None:
            raise
        raise StartupError(hint) from None
    finally:
        await engine.dispose()


async def verify_token(settings: Settings) -> dict:
    client = build_slack_client(settings)
    try:
        return (await client.auth_test()).data  # type: ignore[return-value]
    except SlackApiError as e:
        raise StartupError(
            f"Slack refused SLACK_BOT_TOKEN ({slack_error_code(e)}): set a valid bot token (xoxb-...) for this workspace"
        ) from None
    except Exception as e:  # network: wrong SLACK_API_URL, no route
        raise StartupError(
            f"cannot reach Slack at {settings.slack_api_url} ({type(e).__name__}: {e}): check SLACK_API_URL and the network"
        ) from None


def _begin_shutdown(readiness: Readiness, scheduler: Any, sla: SlaScheduler | None) -> Awaitable[None]:
    """SIGTERM: /ready turns 503, no new ticks or claims; the running batch finishes its posts and releases the rest."""
    log.info("shutting down: no new claims; finishing requests and posts in progress")
    readiness.stopping = True
    if scheduler is None or sla is None:
        return asyncio.sleep(0)
    scheduler.pause()  # no new ticks; shutting APScheduler down now would cancel the running one mid-post

    async def drain() -> None:
        await sla.drain(DRAIN_SECONDS)
        scheduler.shutdown(wait=False)

    return asyncio.ensure_future(drain())


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> None:
    check_settings(settings)
    if settings.slack_app_token:
        check_port(settings.metrics_port, "METRICS_PORT")
    else:
        check_port(settings.port)
    if problem := sqlite_folder_problem(settings.database_url):
        raise StartupError(problem)
    services = build_services(settings, statement_timeout=settings.database_statement_timeout_seconds)
    cleanups: list = []
    scheduler = sla = None
    http = None
    frozen = False
    try:
        check_default_plan(settings, services.policies)
        await migrate(settings, services)
        await services.load_channel_plans()  # report modals open from memory, never after a query
        # Work in threads (aiosqlite runs each SQLite connection in one, making its rows there): hand the GIL
        # back to the event loop every 1 ms (default 5 ms), so acks are not held up behind it.
        sys.setswitchinterval(0.001)
        identity = await verify_token(settings)
        readiness = Readiness(slack_auth_ok=True)
        for plan in services.policies.plans.values():
            if plan.has_placeholders:
                log.warning("plan %s has placeholder targets: its tickets get no deadlines until you set them", plan.id)
        delivery = build_delivery(settings, services)
        http = build_slack_session(settings)
        app = build_app(settings, services, build_slack_client(settings, services.metrics, session=http), delivery)
        in_flight = InFlight()
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
            cleanups.append(lambda sig=sig: loop.remove_signal_handler(sig))
        if settings.slack_app_token:  # checked before the scheduler starts: a start that fails stops nothing mid-tick
            try:  # a refused app token would otherwise be retried forever inside the Socket Mode client
                await app.client.apps_connections_open(app_token=settings.slack_app_token)
            except SlackApiError as e:
                raise StartupError(
                    f"Slack refused SLACK_APP_TOKEN ({slack_error_code(e)}): create an app-level token with "
                    "connections:write (xapp-...), or unset it for HTTP mode"
                ) from None
        if settings.scheduler_enabled:
            sla = SlaScheduler(
                services,
                app.client,
                batch_size=settings.scheduler_batch_size,
                lease=timedelta(seconds=settings.scheduler_lease_seconds),
                delivery=delivery,
            )
            logging.getLogger("apscheduler").setLevel(logging.ERROR)  # not a line per tick, nor per tick skipped while a long one runs
            scheduler = build_apscheduler(sla, settings.scheduler_tick_seconds)
            scheduler.start()
            log.info("SLA scheduler running as replica %s, tick %ss", sla.replica_id, settings.scheduler_tick_seconds)
        # What is built by now lives as long as the process (modules, app, pools, policies): kept out of the
        # cyclic collector, whose full passes walked its ~140,000 objects in ~75 ms, every request waiting.
        gc.collect()
        gc.freeze()
        frozen = True
        if settings.slack_app_token:
            runner = web.AppRunner(build_ops_app(services, readiness), shutdown_timeout=HTTP_GRACE_SECONDS)
            await runner.setup()
            await web.TCPSite(runner, host="0.0.0.0", port=settings.metrics_port).start()
            handler = TimedSocketModeHandler(app, settings.slack_app_token, services.metrics, in_flight)
            await handler.connect_async()
            log.info("triage-bot connected as %s (Socket Mode); /metrics on :%s", identity.get("user"), settings.metrics_port)
            await stop.wait()
            drained = _begin_shutdown(readiness, scheduler, sla)
            await handler.close_async()
        else:
            runner = web.AppRunner(build_web_app(app, services, readiness, in_flight), shutdown_timeout=HTTP_GRACE_SECONDS)
            await runner.setup()
            site = web.TCPSite(runner, host="0.0.0.0", port=settings.port)
            try:
                await site.start()
            except OSError as e:
                await runner.cleanup()
                raise StartupError(
                    f"PORT {settings.port} cannot be used ({e.strerror or e}): stop what listens there, or set PORT to a free port"
                ) from None
            log.info("triage-bot listening on :%s/slack/events as %s", settings.port, identity.get("user"))
            await stop.wait()
            drained = _begin_shutdown(readiness, scheduler, sla)
        await runner.cleanup()  # stops accepting, then waits for requests in progress
        await in_flight.wait(LISTENER_GRACE_SECONDS, LISTENER_CANCEL_SECONDS)  # listener work a request started after its ack
        await drained
        log.info("stopped")
    finally:
        if scheduler is not None and sla is not None and not sla.stopping:  # a start that failed after the scheduler did
            await sla.drain(DRAIN_SECONDS)
            scheduler.shutdown(wait=False)
        for cleanup in cleanups:
            cleanup()
        if http is not None:  # after the requests, listeners and posts that used it
            await http.close()
        await services.close()
        if frozen:
            gc.unfreeze()  # a process that goes on (the tests) collects it again
