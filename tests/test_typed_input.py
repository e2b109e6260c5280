"""Typed input the code cannot hold (superscript digits, numbers past a column, year 10000, unbounded counts) gets one
line saying what is valid, never "Something went wrong" (signed HTTP; the CLI as a process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CHANNEL, eventually, setup_workspace, sla

MANAGER, RESPONDER = "U0MANAGER", "U0RESPONDER"
KEY_RULE = "is not a ticket id (like INC-42: INC- and a number from 1 to 2147483647)"


def team(bot) -> None:
    setup_workspace(bot)
    bot.slack.add_user(MANAGER, "maria")
    bot.slack.add_user(RESPONDER, "ron")
    bot.services.settings.manager_user_ids = MANAGER
    bot.services.settings.responder_user_ids = RESPONDER


@pytest.mark.parametrize(
    "text, user, expected",
    [
        ("ticket INC-²", RESPONDER, f":x: 'INC-²' {KEY_RULE}"),
        ("ticket INC-٣", RESPONDER, f":x: 'INC-٣' {KEY_RULE}"),  # int() reads Arabic-Indic digits
        ("ticket INC-1_000", RESPONDER, f":x: 'INC-1_000' {KEY_RULE}"),
        ("ticket INC-0", RESPONDER, f":x: 'INC-0' {KEY_RULE}"),
        ("ticket INC-2147483648", RESPONDER, f":x: 'INC-2147483648' {KEY_RULE}"),
        ("ticket INC-2147483647", RESPONDER, ":x: no ticket INC-2147483647"),
        ("resume INC-99999999999999999999", RESPONDER, f":x: 'INC-99999999999999999999' {KEY_RULE}"),
        ("ack INC-¹²", RESPONDER, f":x: 'INC-¹²' {KEY_RULE}"),
        (
            "update INC-1 next=99999999999d rolled back",
            RESPONDER,
            ":x: 'next=99999999999d': the next update is from 1m to 30d away, e.g. next=30m, next=4h, next=2d",
        ),
        (
            "update INC-1 next=31d rolled back",
            RESPONDER,
            ":x: 'next=31d': the next update is from 1m to 30d away, e.g. next=30m, next=4h, next=2d",
        ),
        ("report --period 9999-12", MANAGER, ":x: '9999-12' is not a period"),
        ("report --period 2101-Q1", MANAGER, ":x: '2101-Q1' is not a period"),
        (
            "oncall set on-call rotation <@U0A> every=99999999999",
            MANAGER,
            ":x: 'every=99999999999': hand-offs every 1 to 365 days, e.g. every=7",
        ),
        ("oncall set on-call rotation <@U0A> every=²", MANAGER, ":x: 'every=²': hand-offs every 1 to 365 days, e.g. every=7"),
        (
            "oncall set on-call rotation <@U0A> start=9999-12-31T23:59",
            MANAGER,
            ":x: the first hand-off: the year must be from 1970 to 2100",
        ),
        (
            "oncall set on-call rotation <@U0A> start=0001-01-01T00:00+05:00",
            MANAGER,
            ":x: the first hand-off: the year must be from 1970 to 2100",
        ),
    ],
)
async def test_typed_input_gets_one_line_saying_what_is_valid(bot, text: str, user: str, expected: str) -> None:
    team(bot)
    reply = await sla(bot, text, user)
    assert reply.startswith(expected), reply
    assert "\n" not in reply or "Usage" in reply.split("\n", 1)[1]
    if "period" in text:
        assert "years 1970 to 2100" in reply


async def test_forged_button_offset_and_modal_option_are_refused_plainly(bot) -> None:
    team(bot)
    r = await bot.sender.block_action("status_more", RESPONDER, value="breached:99999999999999999999", channel_id=CHANNEL, message_ts="1.1")
    assert r.status == 200
    told = await eventually(lambda: bot.slack.calls_to("chat.postEphemeral"))
    assert told[-1].params["text"] == "That button is out of date: run `/sla status` again."
    view = {
        "type": "modal",
        "callback_id": "ticket_update_modal",
        "private_metadata": json.dumps({"ticket": "INC-1"}),
        "blocks": [
            {
                "type": "input",
                "block_id": "text",
                "element": {"type": "plain_text_input", "action_id": "value"},
                "label": {"type": "plain_text", "text": "Update"},
            }
        ],
    }
    values = {"text": {"value": "rolled back"}, "next": {"value": {"type": "static_select", "selected_option": {"value": "99999999999"}}}}
    r = await bot.sender.view_submission(view, RESPONDER, values)
    assert r.json == {"response_action": "errors", "errors": {"text": "Choose one of the listed times for the next update"}}


def test_cli_refuses_unbounded_numbers_and_years(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/t.db"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env, timeout=60)

    r = run("oncall", "set", "manager", "--rotation", "U0A", "--start", "2026-11-23T09:00", "--every-days", "99999999999")
    assert (r.returncode, r.stderr) == (2, "triage-bot: error: hand-offs every 1 to 365 days, e.g. every=7 (not 99999999999)\n")
    r = run("report", "--period", "9999-12")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "years 1970 to 2100" in r.stderr, r.stderr
    r = run(
        "sla", "timeline", "--plan", "comarch-cci-premium", "--severity", "business-critical", "--opened-at", "9999-12-31T23:00:00-05:00"
    )
    assert (r.returncode, r.stderr) == (2, "triage-bot: error: --opened-at: the year must be from 1970 to 2100\n")
