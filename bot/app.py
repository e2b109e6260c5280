"""Factories for the Slack client, the bolt app and the HTTP server. Nothing runs at import."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from contextvars import ContextVar
from datetime import timedelta
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, AsyncServerErrorRetryHandler
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import Delivery, delivery_client
from bot.health import Readiness, ops_routes
from bot.logs import begin
from bot.metrics import InstrumentedWebClient, Metrics, listener_kind
from bot.roles import Roles
from bot.services import Services
from bot.settings import Settings
from handlers import admin, intake, managers, middleware, oncall, payloads, responders, ticket_commands
from handlers.sla_command import SlaCommand

log = logging.getLogger(__name__)


def build_slack_client(settings: Settings, metrics: Metrics | None = None, session: aiohttp.ClientSession | None = None) -> AsyncWebClient:
    """The Web API client: our base URL, with rate-limit (429) and 5xx retries switched on; counted in `metrics`.

    Without `session`, each call opens (and closes) a connection of its own."""
    args: dict[str, Any] = {
        "token": settings.slack_bot_token,
        "base_url": settings.slack_api_url,
        "timeout": settings.slack_timeout_seconds,
        "session": session,
    }
    client = InstrumentedWebClient(**args, metrics=metrics) if metrics is not None else AsyncWebClient(**args)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=2))
    return client


def build_slack_session(settings: Settings) -> aiohttp.ClientSession:
    """One pool of kept-alive connections for the app client, built in the running loop and closed at stop.

    slack_sdk opens a new session, so a new connection (on slack.com a TLS handshake), for every call made
    without one: the modal a reporter waits for paid it on each `views.open`. The client's default retry of a
    dropped connection covers a kept-alive one that Slack closed meanwhile. Given a session, slack_sdk sets no
    timeout of its own per call: the session's is the client's. No cap on connections, as before.
    """
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=settings.slack_timeout_seconds), connector=aiohttp.TCPConnector(limit=0)
    )


def build_delivery(settings: Settings, services: Services) -> Delivery:
    """Durable delivery of owed posts, on a client that never repeats a post on its own (see bot.delivery)."""
    return Delivery(
        services,
        delivery_client(settings.slack_bot_token, settings.slack_api_url, settings.slack_timeout_seconds, metrics=services.metrics),
        lease=timedelta(seconds=settings.scheduler_lease_seconds),
    )


class _OurClientCarriesTheToken(logging.Filter):
    """bolt reads SLACK_BOT_TOKEN from the environment even when given a client, then warns at every start
    that the token "will be unused": it is the client's own token, so that line says nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in record.getMessage()


def build_app(settings: Settings, services: Services, client: AsyncWebClient | None = None, delivery: Delivery | None = None) -> AsyncApp:
    delivery = delivery or build_delivery(settings, services)
    bolt_log = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _OurClientCarriesTheToken) for f in bolt_log.filters):
        bolt_log.addFilter(_OurClientCarriesTheToken())
    app = AsyncApp(
        client=client or build_slack_client(settings, services.metrics),  # it carries the token (bolt warns when given both)
        signing_secret=settings.slack_signing_secret or "",
        request_verification_enabled=_verifies_requests(settings),
        process_before_response=False,
    )

    @app.middleware
    async def log_context(context: AsyncBoltContext, next: Callable[[], Awaitable[Any]]) -> Any:  # noqa: A002 - bolt's name
        """Every log line of this request names its team, channel and user.

        Set, not scoped: bolt runs the listener after the global middleware
        returns, in a task that copies this request task's context.
        """
        begin(team_id=context.team_id, channel_id=context.channel_id, user_id=context.user_id)
        return await next()

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


def _verifies_requests(settings: Settings) -> bool:
    """HTTP requests are checked against the signing secret, unless the bot only speaks Socket Mode without one."""
    return settings.slack_app_token is None or bool(settings.slack_signing_secret)


class InFlight:
    """Tasks a Slack request started (bolt runs listeners on after the ack), so a shutdown can let them finish.

    Each task is caught as it is created (`_CatchTasks`, the loop's task factory), in the context of the request
    that creates it. Listing every task of the loop before and after each request instead cost each request time in
    proportion to all the loop's tasks, one per open HTTP connection among them: 40 us at 100 tasks, 180 us at 500,
    which a burst of requests leaves open (keep-alive), so it grew just when the bot was busiest.
    """

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task] = set()

    async def run(self, call: Callable[[], Awaitable[Any]]) -> Any:
        _CatchTasks.install(asyncio.get_running_loop())
        token = _request_of_task.set(self)
        try:
            return await call()
        finally:
            _request_of_task.reset(token)

    def started(self, task: asyncio.Task) -> None:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def wait(self, timeout: float, cancel_grace: float = 0.0) -> None:
        """Let the tasks finish for `timeout`; then cancel the rest and give them `cancel_grace` to say so to
        their user (a report cut off) while the database and Slack clients are still open."""
        if not self.tasks:
            return
        _done, pending = await asyncio.wait(set(self.tasks), timeout=timeout)
        if not pending:
            return
        log.warning("%d listener tasks still running after %ss at shutdown: cancelling them", len(pending), timeout)
        for task in pending:
            task.cancel()
        if cancel_grace > 0:
            await asyncio.wait(pending, timeout=cancel_grace)


_request_of_task: ContextVar[InFlight | None] = ContextVar("triage_in_flight", default=None)


class _CatchTasks:
    """The loop's task factory, wrapping any it had: a task created in a request's context (`InFlight.run`, and the
    tasks started from those) is that request's, until it is done."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop) -> None:
        factory = loop.get_task_factory()
        if not isinstance(factory, cls):
            loop.set_task_factory(cls(factory))

    def __call__(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task:
        task = self.inner(loop, coro, **kwargs) if self.inner is not None else asyncio.Task(coro, loop=loop, **kwargs)
        if (in_flight := _request_of_task.get()) is not None:
            in_flight.started(task)
        return task


def build_web_app(app: AsyncApp, services: Services, readiness: Readiness, in_flight: InFlight | None = None) -> web.Application:
    """`/slack/events` for Slack (events, commands, interactivity); `/health`, `/ready` and `/metrics` for operators."""
    ack_latency = services.metrics.ack_latency
    in_flight = in_flight or InFlight()

    secret = (services.settings.slack_signing_secret or "") if _verifies_requests(services.settings) else None

    async def slack_events(request: web.Request) -> web.Response:
        start = time.perf_counter()
        bolt_request = await read_slack_request(request, secret)
        if isinstance(bolt_request, web.Response):
            return bolt_request
        response = await in_flight.run(lambda: app.async_dispatch(bolt_request))  # returns once the listener acked
        ack_latency.labels(kind=listener_kind(bolt_request.body)).observe(time.perf_counter() - start)
        return await to_aiohttp_response(response)

    web_app = web.Application()
    web_app.add_routes([web.post("/slack/events", slack_events), *ops_routes(services, readiness)])
    return web_app


async def read_slack_request(request: web.Request, secret: str | None) -> AsyncBoltRequest | web.Response:
    """The request as bolt reads it, once it is signed and its shape is what our listeners read (handlers.payloads);
    else the answer: bolt's own 401 for a request not signed, 400 and one log line for a signed one nobody can read."""
    raw = await request.read()
    if secret is not None and not _signed(secret, raw, request.headers):
        return web.json_response({"error": "invalid request"}, status=401)  # what bolt answers (it checks again)
    try:
        bolt_request = await to_bolt_request(request)  # bolt parses the body and reads who sent it
        form = bolt_request.content_type != "application/json" and not raw.startswith(b"{")
        if form and not bolt_request.body and b"payload" in raw:
            _read_form_again(bolt_request)
        wrong = payloads.problem(bolt_request.body, form=form)
    except Exception as e:  # noqa: BLE001 - whatever bolt could not read (not UTF-8, not JSON, a wrong type) is the sender's
        wrong = f"{type(e).__name__}: {str(e)[:200]}"
    if wrong is None:
        return bolt_request
    log.warning("refused a malformed Slack request (%s, %d bytes): %s", request.content_type, len(raw), wrong[:300].replace("\n", " "))
    return web.json_response({"error": "malformed request"}, status=400)


def _read_form_again(bolt_request: AsyncBoltRequest) -> None:
    """slack_bolt (1.30, `parse_body`) takes any form body holding the word "payload" for an interaction's `payload=`
    and reads a slash command whose text holds it (`/sla update INC-1 new payload deployed`) as {}: read its fields."""
    fields = dict(parse_qsl(bolt_request.raw_body, keep_blank_values=True))
    if "payload" not in fields:
        bolt_request.body = fields
        bolt_request.context = build_async_context(AsyncBoltContext({}), fields)


def _signed(secret: str, raw: bytes, headers: Any) -> bool:
    """Slack's v0 signature over the raw bytes (as Slack signs them: bolt's check needs UTF-8), sent in the last 5 minutes."""
    timestamp, signature = headers.get("X-Slack-Request-Timestamp", ""), headers.get("X-Slack-Signature", "")
    try:
        fresh = abs(time.time() - int(timestamp)) <= 5 * 60
        expected = "v0=" + hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + raw, hashlib.sha256).hexdigest()
        return fresh and hmac.compare_digest(expected.encode(), signature.encode())
    except ValueError:  # a timestamp that is not a number, a header that does not encode
        return False


class TimedSocketModeHandler(AsyncSocketModeHandler):
    """Socket Mode, with each envelope's time to ack counted like an HTTP request's."""

    def __init__(self, app: AsyncApp, app_token: str, metrics: Metrics, in_flight: InFlight):
        super().__init__(app, app_token)
        self.ack_latency = metrics.ack_latency
        self.in_flight = in_flight

    async def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        start = time.perf_counter()
        await self.in_flight.run(lambda: super(TimedSocketModeHandler, self).handle(client, req))  # dispatch, then ack over the socket
        self.ack_latency.labels(kind=listener_kind(req.payload or {})).observe(time.perf_counter() - start)
