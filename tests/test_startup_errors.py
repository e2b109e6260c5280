"""Every bad setting stops `triage-bot run` with one line saying what to set: a real process against the stand-in."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import SIGNING_SECRET, TEST_POSTGRES_URL
from tests.helpers import busy_port, free_port
from tests.slack_standin import SlackStandIn
from tests.test_run_command import start


async def run_error(slack: SlackStandIn, tmp_path: Path, **env: str) -> str:
    """The stderr of a start that must fail; it is one line, no traceback."""
    base = {
        "SLACK_BOT_TOKEN": slack.bot_token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db",
        "PORT": str(free_port()),
        "PYTHONPATH": str(Path.cwd()),
    }
    proc = await start({**base, **env}, tmp_path)
    _out, err = await asyncio.wait_for(proc.communicate(), 90)
    text = err.decode()
    assert proc.returncode == 2, text
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("triage-bot: error: "), text
    return text


async def test_missing_postgres_database_says_createdb(tmp_path: Path) -> None:
    missing = make_url(TEST_POSTGRES_URL).set(database=f"triage_missing_{uuid.uuid4().hex[:8]}")
    async with SlackStandIn() as slack:
        text = await run_error(slack, tmp_path, DATABASE_URL=missing.render_as_string(hide_password=False))
    assert f"has no database '{missing.database}': create it with `createdb" in text
    assert len(text.strip().splitlines()) == 1


async def test_sqlite_file_in_a_missing_folder(tmp_path: Path) -> None:
    async with SlackStandIn() as slack:
        text = await run_error(slack, tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/no/such/dir/t.db")
    assert f"the folder {tmp_path}/no/such/dir does not exist: create it (mkdir -p" in text
    assert len(text.strip().splitlines()) == 1


async def test_port_in_use(tmp_path: Path) -> None:
    with busy_port() as port:
        async with SlackStandIn() as slack:
            text = await run_error(slack, tmp_path, PORT=str(port))
    assert f"PORT {port} cannot be used" in text and "set PORT to a free port" in text
    assert len(text.strip().splitlines()) == 1


async def test_default_plan_typo_lists_the_valid_plans(tmp_path: Path) -> None:
    async with SlackStandIn() as slack:
        text = await run_error(slack, tmp_path, DEFAULT_PLAN="comarch-premium")
    assert "DEFAULT_PLAN='comarch-premium' is not a loaded plan; valid: " in text and "comarch-cci-premium" in text
    assert len(text.strip().splitlines()) == 1


@pytest.mark.parametrize("problem", ["broken-symlink", "not-utf8", "folder"])
async def test_unreadable_things_in_policy_dir(tmp_path: Path, problem: str) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    if problem == "broken-symlink":
        (policies / "acme.yaml").symlink_to(tmp_path / "gone.yaml")
        expected = "acme.yaml: invalid policy\n  - a link to"
    elif problem == "not-utf8":
        (policies / "acme.yaml").write_bytes("vendor: {id: acme, name: Zażółć}\n".encode("cp1250"))
        expected = "acme.yaml: invalid policy\n  - not UTF-8 text (byte 27): save it as UTF-8"
    else:
        (policies / "old.yaml").mkdir()
        expected = "old.yaml: invalid policy\n  - a folder, not a policy file: rename it or move it out of POLICY_DIR"
    async with SlackStandIn() as slack:
        text = await run_error(slack, tmp_path, POLICY_DIR=str(policies))
    assert expected in text, text


async def test_every_bad_setting_is_named_on_its_own_line(tmp_path: Path) -> None:
    async with SlackStandIn() as slack:
        text = await run_error(slack, tmp_path, PORT="99999", SCHEDULER_TICK_SECONDS="0")
    assert "setting PORT:" in text and "setting SCHEDULER_TICK_SECONDS:" in text
    assert len(text.strip().splitlines()) == 2


def test_no_warning_about_an_unused_token_at_start(tmp_path: Path, monkeypatch, caplog) -> None:
    """bolt warned "`token` will be unused" at every start, though the client carries that very token."""
    from bot.app import build_app
    from bot.services import build_services
    from bot.settings import Settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-env")
    settings = Settings(_env_file=None, slack_signing_secret="s", database_url=f"sqlite+aiosqlite:///{tmp_path}/t.db")
    with caplog.at_level("WARNING"):
        build_app(settings, build_services(settings))
    assert not [r for r in caplog.records if r.levelname == "WARNING"], [r.getMessage() for r in caplog.records]


async def test_postgres_nobody_listens_on_says_start_it(tmp_path: Path) -> None:
    port = free_port()
    async with SlackStandIn() as slack:
        text = await run_error(slack, tmp_path, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/test")
    assert f"DATABASE_URL: cannot reach PostgreSQL at 127.0.0.1:{port}" in text and "start it, or fix the host and port" in text
    assert len(text.strip().splitlines()) == 1


async def test_postgres_that_never_answers_is_given_up_on_with_one_line(tmp_path: Path) -> None:
    """A host that takes the connection and says nothing (a stuck server, a firewall): not a wait for ever."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with SlackStandIn() as slack:
            text = await run_error(slack, tmp_path, DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/test")
    finally:
        server.close()
        for writer in accepted:
            writer.close()
    assert accepted, "the bot never tried to connect"
    assert f"DATABASE_URL: PostgreSQL at 127.0.0.1:{port} did not answer within 2 s" in text
    assert len(text.strip().splitlines()) == 1
