"""Fixtures for the Slack stand-in's own tests: a stand-in with a small workspace, a slack_sdk client
on it, and a receiver that verifies signatures as a bot would (import them into a test module)."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack_standin import SlackStandIn

SECRET = "test-signing-secret"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "triage_modal",
    "title": {"type": "plain_text", "text": "New incident"},
    "submit": {"type": "plain_text", "text": "Create"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title_block",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "title"},
        }
    ],
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as standin:
        standin.add_user("U1", "alice", real_name="Alice Adams", tz="Europe/Berlin", email="alice@example.com")
        standin.add_user("U2", "bob", real_name="Bob Brown", tz="America/New_York")
        standin.add_channel("C1", "incidents")
        standin.add_usergroup("S1", "oncall", users=["U1", "U2"], name="On-call")
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run an aiohttp app on 127.0.0.1:<ephemeral>; returns runner and base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


class Receiver:
    """A tiny bot endpoint: verifies Slack signatures with slack_sdk and records requests."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.requests: list[dict[str, Any]] = []
        self.reply: dict[str, Any] | None = None  # JSON body to answer with

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        valid = self.verifier.is_valid(
            body=body,
            timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
            signature=request.headers.get("X-Slack-Signature", ""),
        )
        if not valid:
            return web.Response(status=401, text="invalid signature")
        if request.content_type == "application/json":
            parsed: dict[str, Any] = json.loads(body)
        else:
            parsed = dict(parse_qsl(body, keep_blank_values=True))
            if "payload" in parsed:
                parsed = json.loads(parsed["payload"])
        self.requests.append({"headers": dict(request.headers), "body": parsed, "content_type": request.content_type})
        if parsed.get("type") == "url_verification":
            return web.json_response({"challenge": parsed["challenge"]})
        if self.reply is not None:
            return web.json_response(self.reply)
        return web.Response(status=200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/slack/events", recv.handle)
    runner, url = await serve(app)
    try:
        yield recv, url
    finally:
        await runner.cleanup()
