"""`triage-bot doctor` as operators run it (a real process) against the Slack stand-in: a good set-up, then broken ones."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.services import ReportDraft, build_services
from bot.settings import Settings
from rules.clock import ManualClock
from storage.db import upgrade
from tests.slack_standin import SlackStandIn

REPO = Path(__file__).resolve().parent.parent


async def doctor(slack: SlackStandIn, database_url: str, token: str | None = None, **env: str) -> tuple[int, list[str]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "doctor",
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("SLACK_")},
            "SLACK_BOT_TOKEN": token or slack.bot_token,
            "SLACK_API_URL": slack.api_url,
            "DATABASE_URL": database_url,
            **env,
        },
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert not err.strip() or proc.returncode is not None, err
    return proc.returncode, out.decode().splitlines()


def line(lines: list[str], name: str) -> str:
    """`ok` or `FAIL`, then the check's text, of the one line of check `name` (`FAIL  name     text`)."""
    found = [ln for ln in lines if ln[6:27].rstrip() == name]
    assert len(found) == 1, (name, lines)
    return f"{found[0][:4].strip()} {found[0][27:]}"


async def workspace(slack: SlackStandIn, database_url: str, *, opened_ago: timedelta | None = None) -> None:
    slack.add_channel("C0ACME", "acme-support")
    slack.add_channel("C0TRIAGE", "acme-triage")
    services = build_services(Settings(_env_file=None, database_url=database_url))
    try:
        await upgrade(services.engine)
        await services.add_customer("ACME", "C0ACME", "comarch-cci-premium", "C0TRIAGE")
        if opened_ago is not None:  # a ticket whose reminders came due while no scheduler ran
            services.clock = ManualClock(datetime.now(timezone.utc) - opened_ago)
            await services.open_ticket(
                ReportDraft(channel_id="C0ACME", reporter_id="U0R", summary="x", severity="business-critical", priority="p1")
            )
    finally:
        await services.close()


async def test_doctor_passes_on_a_good_setup(database_url: str) -> None:
    async with SlackStandIn() as slack:
        await workspace(slack, database_url)
        code, lines = await doctor(slack, database_url)
    assert code == 0, lines
    assert lines[-1].startswith("all ") and lines[-1].endswith(" checks passed")
    assert line(lines, "slack token").startswith("ok") and "@triage-bot in Stand-in Workspace (T0STANDIN1)" in line(lines, "slack token")
    assert line(lines, "scopes") == "ok all 16 the bot needs are granted"
    assert "#acme-triage (C0TRIAGE), the bot is a member" in line(lines, "ACME triage channel")
    assert line(lines, "database").startswith("ok answering, at migration ")
    assert line(lines, "scheduler") == "ok no reminder is late"
    assert "blancco-sp3" in line(lines, "policies")  # placeholder targets are named, not failed


async def test_doctor_names_each_problem_and_what_to_do(database_url: str) -> None:
    async with SlackStandIn() as slack:
        await workspace(slack, database_url, opened_ago=timedelta(hours=2))
        slack.channels["C0TRIAGE"].bot_member = False
        del slack.channels["C0ACME"]
        slack.token_scopes[slack.bot_token] = [
            s for s in slack.token_scopes[slack.bot_token] if s not in ("files:write", "chat:write.public")
        ]
        code, lines = await doctor(slack, database_url)
    assert code == 1, lines
    assert line(lines, "scopes") == (
        "FAIL missing chat:write.public, files:write: add them under OAuth & Permissions "
        "(or update from app-manifest.yml), then reinstall the app"
    )
    assert line(lines, "ACME channel").startswith("FAIL C0ACME: channel_not_found:")
    assert line(lines, "ACME triage channel") == "FAIL the bot is not in #acme-triage (C0TRIAGE): /invite @triage-bot there"
    assert line(lines, "scheduler").startswith("FAIL ") and "reminders are over 60 s late: start `triage-bot run`" in line(
        lines, "scheduler"
    )
    assert line(lines, "slack token").startswith("ok") and line(lines, "database").startswith("ok")
    assert lines[-1] == "4 of 7 checks failed"


async def test_doctor_with_a_refused_token_a_bad_policy_and_no_migrations(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "bad.yaml").write_text("vendor: {id: x}\n")
    async with SlackStandIn() as slack:
        url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
        code, lines = await doctor(slack, url, token="xoxb-revoked")
        assert code == 1
        assert line(lines, "slack token") == "FAIL auth.test: invalid_auth: set a valid bot token (xoxb-...) for this workspace"
        assert line(lines, "database").startswith("FAIL database at migration none, code expects ")
        assert line(lines, "database").endswith(": run `triage-bot db upgrade`")
        code, lines = await doctor(slack, url, POLICY_DIR=str(tmp_path / "policies"))
        assert code == 1
        problem = line(lines, "policies")
        assert problem.startswith(f"FAIL {tmp_path / 'policies' / 'bad.yaml'}: invalid policy") and "plans: Field required" in problem
        assert problem.endswith(": fix the file in POLICY_DIR")
