"""`triage-bot run` as an operator starts it: a real process, real HTTP, the stand-in as Slack."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.conftest import SIGNING_SECRET
from tests.helpers import free_port
from tests.slack_standin import SlackSender, SlackStandIn


async def start(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env={**{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_missing_token_is_one_clear_line(tmp_path: Path) -> None:
    proc = await start({"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db", "PYTHONPATH": str(Path.cwd())}, tmp_path)
    _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert err.decode().strip() == "triage-bot: error: SLACK_BOT_TOKEN is not set: set it to the app's Bot User OAuth Token (xoxb-...)"


async def test_wrong_token_is_one_clear_line(tmp_path: Path) -> None:
    async with SlackStandIn() as slack:
        env = {
            "SLACK_BOT_TOKEN": "xoxb-wrong",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db",
            "PYTHONPATH": str(Path.cwd()),
        }
        proc = await start(env, tmp_path)
        _out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in err.decode()
    assert "Traceback" not in err.decode()


async def test_run_serves_slack_events_and_migrates(tmp_path: Path) -> None:
    async with SlackStandIn() as slack:
        slack.add_channel("C0INCIDENT", "incidents")
        slack.add_user("U0REPORTER", "rita")
        port = free_port()
        env = {
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db",
            "PORT": str(port),
            "PYTHONPATH": str(Path.cwd()),
        }
        proc = await start(env, tmp_path)
        try:
            sender = SlackSender(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, slack=slack)
            for _ in range(200):
                try:
                    r = await sender.slash_command("/incident", "API down", "U0REPORTER", "C0INCIDENT")
                    break
                except OSError:
                    await asyncio.sleep(0.1)
            assert r.status == 200
            assert (await sender.slash_command("/incident", "API down again", "U0REPORTER", "C0INCIDENT")).status == 200
            for _ in range(100):
                if len(slack.calls_to("views.open")) == 2:
                    break
                await asyncio.sleep(0.05)
            assert slack.last_view()["callback_id"] == "incident_step1"
            assert (tmp_path / "t.db").exists()
            # one kept-alive connection to Slack: no new connection (on slack.com a TLS handshake) per modal
            opened = slack.calls_to("views.open")
            assert len(opened) == 2 and opened[0].connection is not None
            assert opened[0].connection == opened[1].connection
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
