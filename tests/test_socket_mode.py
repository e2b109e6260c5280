"""Socket Mode (SLACK_APP_TOKEN set): `serve` connects over a websocket and handles what Slack sends there."""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path
from typing import Any

import aiohttp

from bot.runner import serve
from bot.settings import Settings
from tests.helpers import busy_port, eventually, free_port
from tests.slack_standin import SlackStandIn
from tests.test_operations import eventually_scrape, value


def socket_settings(slack: SlackStandIn, tmp_path: Path, app_token: str = "xapp-test-token", **extra: Any) -> Settings:
    """A Socket Mode bot on the stand-in, with its database in `tmp_path`."""
    return Settings(
        _env_file=None,
        slack_bot_token=slack.bot_token,
        slack_app_token=app_token,
        slack_api_url=slack.api_url,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db",
        **extra,
    )


async def test_socket_mode_slash_command_opens_the_modal(tmp_path: Path) -> None:
    async with SlackStandIn() as slack:
        slack.add_channel("C0INCIDENT", "incidents")
        slack.add_user("U0REPORTER", "rita")
        settings = socket_settings(slack, tmp_path, scheduler_tick_seconds=0.2, metrics_port=free_port())
        stop = asyncio.Event()
        bot = asyncio.create_task(serve(settings, stop))
        try:
            await eventually(lambda: slack.sockets, timeout=15)
            assert gc.get_freeze_count() > 10_000  # what start-up built is out of the collector's full passes
            payload = {
                "token": "x",
                "team_id": slack.team_id,
                "channel_id": "C0INCIDENT",
                "channel_name": "incidents",
                "user_id": "U0REPORTER",
                "user_name": "rita",
                "command": "/incident",
                "text": "VPN is down",
                "api_app_id": slack.app_id,
                "response_url": slack.new_response_url("C0INCIDENT", "U0REPORTER"),
                "trigger_id": slack.new_trigger_id("U0REPORTER"),
            }
            await slack.socket_send(
                {"envelope_id": "env-1", "type": "slash_commands", "payload": payload, "accepts_response_payload": True}
            )
            await eventually(lambda: any(a.get("envelope_id") == "env-1" for a in slack.socket_acks))
            await eventually(lambda: slack.calls_to("views.open"))
            view = slack.last_view()
            assert view["callback_id"] == "incident_step1"
            assert next(b for b in view["blocks"] if b.get("block_id") == "summary")["element"]["initial_value"] == "VPN is down"
            assert [c.method for c in slack.calls][:3] == ["auth.test", "apps.connections.open", "apps.connections.open"]
            ops = f"http://127.0.0.1:{settings.metrics_port}"
            m = await eventually_scrape(ops + "/metrics", lambda m: value(m, "triage_listener_ack_duration_seconds_count", kind="command"))
            assert value(m, "triage_listener_ack_duration_seconds_count", kind="command") == 1
            assert value(m, "triage_slack_api_calls_total", method="views.open", outcome="ok") == 1
            async with aiohttp.ClientSession() as http, http.get(ops + "/ready") as resp:
                assert resp.status == 200, await resp.text()
        finally:
            stop.set()
            await asyncio.wait_for(bot, 30)
        assert gc.get_freeze_count() == 0  # handed back at stop


async def test_wrong_app_token_is_refused_clearly(tmp_path: Path) -> None:
    from bot.runner import StartupError, check_settings

    settings = Settings(_env_file=None, slack_bot_token="xoxb-1", slack_app_token="xoxb-not-an-app-token")
    try:
        check_settings(settings)
    except StartupError as e:
        assert "SLACK_APP_TOKEN must be an app-level token starting with xapp-" in str(e)
    else:
        raise AssertionError("a bot token as SLACK_APP_TOKEN must be refused")


async def test_refused_app_token_stops_the_start_with_one_line(tmp_path: Path, caplog) -> None:
    from bot.runner import StartupError

    caplog.set_level(logging.INFO, logger="bot.runner")
    async with SlackStandIn() as slack:
        settings = socket_settings(slack, tmp_path, app_token="xapp-revoked")
        try:
            await asyncio.wait_for(serve(settings), 30)
        except StartupError as e:
            assert str(e).startswith("Slack refused SLACK_APP_TOKEN (invalid_auth)")
        else:
            raise AssertionError("serve() must refuse a revoked app token")
    # Refused before the scheduler started: a start that fails leaves no tick to be cut off as the engine closes.
    assert not [r for r in caplog.records if r.getMessage().startswith("SLA scheduler running")]


async def test_socket_mode_metrics_port_in_use_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    from bot.runner import StartupError

    with busy_port() as port:
        async with SlackStandIn() as slack:
            settings = socket_settings(slack, tmp_path, metrics_port=port)
            try:
                await asyncio.wait_for(serve(settings), 30)
            except StartupError as e:
                assert str(e).startswith(f"METRICS_PORT {port} cannot be used") and "set METRICS_PORT to a free port" in str(e)
            else:
                raise AssertionError("serve() must refuse a METRICS_PORT in use")
            assert not slack.calls, "nothing starts (no Slack call) before the port is known to be free"
