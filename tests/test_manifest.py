"""The manifest and the code must agree: every command, shortcut and event in it has a listener."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.app import build_app
from bot.services import build_services
from bot.settings import Settings

MANIFEST = Path(__file__).parent.parent / "app-manifest.yml"


def test_manifest_matches_listeners(tmp_path: Path) -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    settings = Settings(
        _env_file=None, slack_bot_token="xoxb-x", slack_signing_secret="s", database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db"
    )
    app = build_app(settings, build_services(settings))
    from handlers import intake

    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert commands == {"/incident", "/sla"}
    assert {s["callback_id"] for s in manifest["features"]["shortcuts"]} == {intake.SHORTCUT_CALLBACK}
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == [
        "app_home_opened",
        "app_mention",
        "message.channels",
        "message.groups",
    ]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True  # the SLA dashboard
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"files:write", "im:write", "commands", "chat:write"} <= scopes  # report uploads, their DM fallback
    from bot.doctor import REQUIRED_SCOPES

    assert scopes == set(REQUIRED_SCOPES)  # what `triage-bot doctor` checks the token for
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    urls = {c["url"] for c in manifest["features"]["slash_commands"]}
    urls |= {manifest["settings"]["event_subscriptions"]["request_url"], manifest["settings"]["interactivity"]["request_url"]}
    assert all(u.endswith("/slack/events") for u in urls)
    assert len(app._async_listeners) >= 6
