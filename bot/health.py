"""`/health` (liveness: the process answers), `/ready` (the database answers at the current migration, Slack
accepted the token at start, and the bot is not shutting down) and `/metrics` (Prometheus text format)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.metrics import CONTENT_TYPE_LATEST
from bot.services import Services
from storage.ops import schema_problem, stored_state


@dataclass
class Readiness:
    """What `/ready` needs beyond the database: set by the runner."""

    slack_auth_ok: bool = False
    stopping: bool = False

    async def problems(self, services: Services) -> list[str]:
        found = []
        if self.stopping:
            found.append("shutting down")
        if not self.slack_auth_ok:
            found.append("Slack auth.test has not succeeded")
        problem = await schema_problem(services.engine)
        if problem:
            found.append(problem)
        return found


def ops_routes(services: Services, readiness: Readiness) -> list[web.RouteDef]:
    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def ready(_request: web.Request) -> web.Response:
        problems = await readiness.problems(services)
        return web.json_response({"ready": not problems, "problems": problems}, status=503 if problems else 200)

    async def metrics(_request: web.Request) -> web.Response:
        body = await services.metrics.exposition(lambda: stored_state(services.sessions, services.clock.now()))
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return resp

    return [web.get("/health", health), web.get("/ready", ready), web.get("/metrics", metrics)]


def build_ops_app(services: Services, readiness: Readiness) -> web.Application:
    """The operator endpoints alone: served on METRICS_PORT in Socket Mode, where nothing else listens."""
    app = web.Application()
    app.add_routes(ops_routes(services, readiness))
    return app
