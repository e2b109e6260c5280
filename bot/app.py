"""Factories for the Slack client, the bolt app and the HTTP server. Nothing runs at import."""

from __future__ import annotations

import logging
from datetime import timedelta

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, AsyncServerErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import Delivery, delivery_client
from bot.services import Services
from bot.settings import Settings
from bot.roles import Roles
from handlers import admin, intake, managers, middleware, oncall, responders, ticket_commands
from handlers.sla_command import SlaCommand

log = logging.getLogger(__name__)


def build_slack_client(settings: Settings) -> AsyncWebClient:
    """The Web API client: our base URL, with rate-limit (429) and 5xx retries switched on."""
    client = AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=settings.slack_timeout_seconds)  # type: ignore[arg-type]
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
    return client


def build_delivery(settings: Settings, services: Services) -> Delivery:
    """Durable delivery of owed posts, on a client that never repeats a post on its own (see bot.delivery)."""
    return Delivery(
        services, delivery_client(settings.slack_bot_token, settings.slack_api_url, settings.slack_timeout_seconds),
        lease=timedelta(seconds=settings.scheduler_lease_seconds),
    )


class _OurClientCarriesTheToken(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN from the environment even when given a client, then warns at every start
    that the token "will be unused": it is the client's own token, so that line says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in record.getMessage()


def build_app(
    settings: Settings, services: Services, client: AsyncWebClient | None = None, delivery: Delivery | None = None
) -> AsyncApp:
    delivery = delivery or build_delivery(settings, services)
    bolt_log = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _OurClientCarriesTheToken) for f in bolt_log.filters):
        bolt_log.addFilter(_OurClientCarriesTheToken())
    app = AsyncApp(
        client=client or build_slack_client(settings),  # it carries the token (bolt warns when given both)
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=settings.slack_app_token is None or bool(settings.slack_signing_secret),
        process_before_response=False,
    )
    roles = Roles(settings, app.client)
    middleware.install(app, services, roles)  # context["services"], context["roles"]; the one error handler
    sla = SlaCommand()  # the one /sla listener; subcommands: customers, contacts, status, ticket, report, oncall, ticket actions
    intake.register(app, services, delivery)
    admin.register(sla, services)
    managers.register(app, sla, services, roles)
    oncall.register(sla, services)
    ticket_commands.register(sla, services, delivery)
    responders.register(app, services, roles, delivery)
    sla.register(app)
    return app


def build_web_app(app: AsyncApp) -> web.Application:
    """`/slack/events` for Slack (events, commands, interactivity) and `/health` for load balancers."""

    async def slack_events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await app.async_dispatch(await to_bolt_request(request)))

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    web_app = web.Application()
    web_app.add_routes([web.post("/slack/events", slack_events), web.get("/health", health)])
    return web_app
