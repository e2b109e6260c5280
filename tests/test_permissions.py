"""The app asks for exactly the permissions its code uses, and joins its customers' channels.

Every `client.<method>(...)` in bot/ and handlers/ is read from the source; each Web API
method's bot scopes come from its page in Slack's method reference; the manifest must
request exactly their union (plus what the listeners need), nothing more.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers import CHANNEL, eventually, setup_workspace, sla

ROOT = Path(__file__).parent.parent
MANIFEST = ROOT / "app-manifest.yml"

# Bot-token scopes per method, from https://docs.slack.dev/reference/methods/<method> ("Scopes: Bot token").
METHOD_SCOPES: dict[str, set[str]] = {
    "auth_test": set(),
    "apps_connections_open": set(),  # app-level token (connections:write), not a bot scope
    "views_open": set(),
    "views_update": set(),
    "views_push": set(),
    "views_publish": set(),
    # chat:write; chat:write.public to post where the bot is not a member (/incident in any channel)
    "chat_postMessage": {"chat:write", "chat:write.public"},
    "chat_postEphemeral": {"chat:write"},
    "chat_update": {"chat:write"},
    # one scope per conversation type: the bot reads threads in channels, private channels, DMs, group DMs
    "conversations_replies": {"channels:history", "groups:history", "im:history", "mpim:history"},
    "conversations_history": {"channels:history", "groups:history", "im:history", "mpim:history"},
    "conversations_open": {"im:write"},
    "conversations_join": {"channels:join"},
    "usergroups_users_list": {"usergroups:read"},
    "files_upload_v2": {"files:write"},  # files.getUploadURLExternal + files.completeUploadExternal
    "users_info": {"users:read"},
    "conversations_info": {"channels:read", "groups:read", "im:read", "mpim:read"},
}
# What the listeners need: https://docs.slack.dev/reference/events/app_mention, message.channels, message.groups,
# and the `commands` scope for slash commands and shortcuts.
EVENT_SCOPES = {"app_mention": {"app_mentions:read"}, "message.channels": {"channels:history"}, "message.groups": {"groups:history"}}


def methods_called() -> set[str]:
    """Every `<something>client.<method>(` in the bot's code."""
    found: set[str] = set()
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("handlers").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
                if name.endswith("client"):
                    found.add(node.func.attr)
    return found


def test_manifest_requests_exactly_the_scopes_the_code_uses() -> None:
    called = methods_called()
    unknown = called - METHOD_SCOPES.keys()
    assert not unknown, f"add these methods' scopes (from Slack's method reference) to METHOD_SCOPES: {unknown}"
    manifest = yaml.safe_load(MANIFEST.read_text())
    needed = set().union(*(METHOD_SCOPES[m] for m in called), {"commands"})
    needed |= set().union(*(EVENT_SCOPES[e] for e in manifest["settings"]["event_subscriptions"]["bot_events"] if e in EVENT_SCOPES))
    assert {"conversations_replies", "conversations_join", "chat_postMessage"} <= called
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed


async def test_customer_channels_are_joined_or_the_admin_is_told(bot) -> None:
    setup_workspace(bot)
    bot.slack.add_channel("C0ACMETRI", "acme-triage")
    text = await sla(bot, f"customers add <#{CHANNEL}|incidents> comarch-cci-basic ACME triage=<#C0ACMETRI|acme-triage>", "UADMIN")
    assert f"I joined <#{CHANNEL}>" in text and "I joined <#C0ACMETRI>" in text
    assert bot.slack.bot_user_id in bot.slack.channels["C0ACMETRI"].members
    bot.slack.add_channel("G0PRIVATE", "bigco-private", is_private=True)
    text = await sla(bot, "customers add <#G0PRIVATE|bigco-private> comarch-cci-basic BIGCO", "UADMIN")
    assert "Added *BIGCO*" in text and "private" in text and "/invite @triage-bot" in text
    archived = bot.slack.add_channel("C0OLD", "old")
    archived.is_archived = True
    text = await sla(bot, "customers add <#C0OLD|old> comarch-cci-basic OLDCO", "UADMIN")
    assert "could not join <#C0OLD> (it is archived)" in text
    await eventually(lambda: len(bot.slack.calls_to("conversations.join")) == 3)


def test_cli_without_a_token_says_to_invite_the_bot(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "customers", "add", "--name", "ACME", "--channel", "C0ACME1", "--plan", "comarch-cci-basic"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert "added customer 'ACME'" in out.stdout
    assert "could not join C0ACME1 (SLACK_BOT_TOKEN is not set here): invite me there with /invite @triage-bot" in out.stdout
