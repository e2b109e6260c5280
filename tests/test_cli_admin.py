"""Customers, contacts and on-call from the shell and from `/sla`: ids only, remove and update, plain words.

The CLI as a real process (`python -m bot.cli`); `/sla` through the signed HTTP path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CHANNEL, setup_workspace, sla


def cli(tmp_path: Path, *args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/t.db")
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=90,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["customers", "add", "--name", "ACME", "--channel", "#general", "--plan", "comarch-cci-basic"],
            "--channel '#general' is not a channel id like C0123ABC (or <#C0123ABC|name>)",
        ),
        (
            ["customers", "add", "--name", "ACME", "--channel", "C0ACME1", "--plan", "comarch-cci-basic", "--triage-channel", "triage"],
            "--triage-channel 'triage' is not a channel id",
        ),
        (["contacts", "add", "--customer", "ACME", "--user", "rita"], "--user 'rita' is not a user id like U0123ABC (or <@U0123ABC>)"),
        (["oncall", "set", "on-call", "--user", "olga"], "--user 'olga' is not a user id"),
        (["oncall", "set", "on-call", "--group", "@leads"], "--group '@leads' is not a user group id like S0123ABC"),
        (["oncall", "set", "manager", "--rotation", "U0A1,bob", "--start", "2026-12-07T09:00+01:00"], "--rotation 'bob' is not a user id"),
        (["report", "--chart", "r.jpg"], "--chart 'r.jpg': the chart is a PNG image; name the file *.png"),
    ],
)
def test_cli_refuses_what_is_not_an_id_saying_what_is_valid(tmp_path: Path, args: list[str], expected: str) -> None:
    r = cli(tmp_path, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip() == f"triage-bot: error: {expected}" or expected in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r.jpg").exists()


def test_cli_accepts_ids_and_mention_forms_and_removes_and_updates(tmp_path: Path) -> None:
    ok = cli(tmp_path, "customers", "add", "--name", "ACME", "--channel", "<#C0ACME1|acme>", "--plan", "comarch-cci-basic")
    assert ok.returncode == 0, ok.stderr
    assert "channel C0ACME1" in ok.stdout
    assert cli(tmp_path, "contacts", "add", "--customer", "ACME", "--user", "<@U0RITA1>").returncode == 0
    full = cli(tmp_path, "contacts", "add", "--customer", "ACME", "--user", "U0OLGA1")
    assert full.returncode == 2 and "allows 1 named contact;" in full.stderr and "contacts remove" in full.stderr
    removed = cli(tmp_path, "contacts", "remove", "--customer", "ACME", "--user", "U0RITA1")
    assert removed.returncode == 0 and "0 contacts left" in removed.stdout
    assert cli(tmp_path, "contacts", "add", "--customer", "ACME", "--user", "U0OLGA1").returncode == 0
    upd = cli(tmp_path, "customers", "update", "--name", "ACME", "--plan", "comarch-cci-premium", "--triage-channel", "C0TRIAGE1")
    assert upd.returncode == 0, upd.stderr
    assert "plan comarch-cci-premium, triage C0TRIAGE1" in upd.stdout
    listed = cli(tmp_path, "customers", "list")
    assert "comarch-cci-premium" in listed.stdout and "U0OLGA1" in listed.stdout
    assert cli(tmp_path, "oncall", "set", "on-call", "--user", "<@U0OLGA1>").returncode == 0
    assert "U0OLGA1" in cli(tmp_path, "oncall", "show").stdout
    cleared = cli(tmp_path, "oncall", "clear", "on-call")
    assert cleared.returncode == 0 and "nobody on call now" in cleared.stdout
    assert "on-call        (nobody set)" in cli(tmp_path, "oncall", "show").stdout
    gone = cli(tmp_path, "customers", "remove", "--name", "ACME")
    assert gone.returncode == 0 and "removed customer 'ACME'" in gone.stdout
    assert "no customers yet" in cli(tmp_path, "customers", "list").stdout


def test_cli_plurals(tmp_path: Path) -> None:
    out = cli(tmp_path, "policies").stdout
    assert "1 cases" not in out and "1 contacts" not in out
    assert "(Professional; business-hours, Europe/Berlin; 1 case/month; any contact)" in out
    assert "10 cases/quarter; 1 contact)" in out and "; 5 contacts)" in out


def test_policies_json_into_head_is_quiet(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    r = subprocess.run(
        f"{sys.executable} -m bot.cli policies --json | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=90,
    )
    assert r.stdout.strip() == "["
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr


async def test_sla_customers_update_remove_and_contacts_remove(bot) -> None:
    setup_workspace(bot)
    bot.slack.add_channel("C0TRIAGE1", "acme-triage")
    await sla(bot, f"customers add <#{CHANNEL}|incidents> comarch-cci-basic ACME", "UADMIN")
    await sla(bot, "contacts add <@U0RITA1> ACME", "UADMIN")
    refused = await sla(bot, "contacts add <@U0OLGA1> ACME", "UADMIN")
    assert "allows 1 named contact;" in refused
    text = await sla(bot, "contacts remove <@U0RITA1> ACME", "UADMIN")
    assert "<@U0RITA1> is no longer a contact of *ACME* (0 contacts left)" in text
    text = await sla(bot, "customers update ACME plan=comarch-cci-premium triage=<#C0TRIAGE1|acme-triage>", "UADMIN")
    assert "Updated *ACME*" in text and "plan `comarch-cci-premium`" in text and "I joined <#C0TRIAGE1>" in text
    text = await sla(bot, "customers list", "UADMIN")
    assert "0 contacts" in text and "triage in <#C0TRIAGE1>" in text
    text = await sla(bot, "customers update ACME triage=none", "UADMIN")
    assert "triage in" not in text
    text = await sla(bot, "customers remove ACME", "UADMIN")
    assert "Removed *ACME*" in text
    assert "No customers yet" in await sla(bot, "customers list", "UADMIN")


async def test_sla_oncall_clear(bot) -> None:
    setup_workspace(bot)
    bot.slack.add_user("U0OLGA1", "olga")
    await sla(bot, "oncall set on-call <@U0OLGA1>", "UADMIN")
    text = await sla(bot, "oncall clear on-call", "UADMIN")
    assert text == "Nobody is on call as *on-call* now."
    assert "_nobody set_" in await sla(bot, "oncall", "UADMIN")


async def test_a_failed_command_is_logged_by_name_not_none(bot, caplog, monkeypatch) -> None:
    setup_workspace(bot)

    async def broken() -> list:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bot.services, "list_customers", broken)
    with caplog.at_level("ERROR"):
        text = await sla(bot, "customers list", "UADMIN")
    assert "Something went wrong" in text
    failed = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert any("/sla customers from UADMIN" in m for m in failed), failed
    assert not any("for None" in m for m in failed)
