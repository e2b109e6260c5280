"""`/sla oncall` through the stand-in, and `triage-bot oncall` as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import setup_workspace, sla

MANAGER = "U0MANAGER"


async def test_managers_set_the_team_sees(bot) -> None:
    setup_workspace(bot)
    bot.services.settings.manager_user_ids = MANAGER
    assert "Only managers and admins" in await sla(bot, "oncall set on-call <@U0OLGA|olga>", "U0REPORTER")
    assert "nobody set" in await sla(bot, "oncall", MANAGER)
    reply = await sla(bot, "oncall set on-call <@U0OLGA|olga>", MANAGER)
    assert "On call as *on-call*: <@U0OLGA>" in reply
    reply = await sla(bot, "oncall set next-level <!subteam^S0LEADS|@leads>", MANAGER)
    assert "<!subteam^S0LEADS>" in reply
    reply = await sla(bot, "oncall set manager rotation <@U0A> <@U0B> start=2026-11-23T09:00 every=7", MANAGER)
    # the bot's clock is Mon 2026-11-30 10:00 Warsaw: one hand-off since the 23rd, so U0B
    assert "now <@U0B>" in reply
    assert "from 2026-11-23 09:00 (plan time, Europe/Warsaw)" in reply
    listing = await sla(bot, "oncall", MANAGER)
    assert "*on-call*: <@U0OLGA>" in listing and "*next-level*: <!subteam^S0LEADS>" in listing and "*manager*: <@U0B>" in listing
    assert "unknown escalation role 'boss'" in await sla(bot, "oncall set boss <@U0A>", MANAGER)
    assert "not a user or user group" in await sla(bot, "oncall set on-call olga", MANAGER)


def test_cli_oncall(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", "oncall", *args], capture_output=True, text=True, env=env, timeout=60)

    assert run("set", "on-call", "--user", "U0OLGA").returncode == 0
    # One rule with Slack's start=: a local time is plan time (DEFAULT_PLAN's zone); an offset is taken as that instant.
    r = run("set", "manager", "--rotation", "U0A,U0B", "--start", "2026-11-23T09:00")
    assert r.returncode == 0 and "from 2026-11-23 09:00 (plan time, Europe/Warsaw)" in r.stdout, r.stderr
    r = run("set", "manager", "--rotation", "U0A,U0B", "--start", "2026-11-23T09:00+01:00")
    assert r.returncode == 0 and "from 2026-11-23 09:00 (plan time, Europe/Warsaw)" in r.stdout
    shown = {row["role"]: row["setting"] for row in json.loads(run("show", "--json").stdout)}
    assert "from 2026-11-23 09:00 (plan time, Europe/Warsaw)" in shown["manager"]  # not 08:00, the stored UTC
    assert (
        "write the first hand-off as 2026-12-07T09:00 (plan time)"
        in run("set", "manager", "--rotation", "U0A", "--start", "next monday").stderr
    )
    rows = json.loads(run("show", "--json").stdout)
    assert {r["role"]: r["setting"] for r in rows}["on-call"] == "<@U0OLGA>"
    r = run("set", "nobody", "--user", "U0NOBODY1")
    assert r.returncode == 2 and "unknown escalation role" in r.stderr


async def test_manager_by_slack_user_group(bot) -> None:
    setup_workspace(bot)
    group = bot.slack.add_usergroup("S0MANAGERS", "managers", users=["U0GROUPMGR"])
    bot.services.settings.manager_group_id = group.id
    assert "On call as *on-call*" in await sla(bot, "oncall set on-call <@U0OLGA|olga>", "U0GROUPMGR")
    assert "Only managers and admins" in await sla(bot, "oncall set on-call <@U0OLGA|olga>", "U0REPORTER")
