"""Malformed requests, correctly signed, are refused at the edge with HTTP 400 and one log line (no stack), never a 500
and never bolt's 3 s wait for an ack that no listener gives (signed HTTP to the running bot)."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest

from handlers.intake import NO_CHANNEL
from handlers.middleware import FORM_LATE
from tests.helpers import CHANNEL, REPORTER, eventually, setup_workspace

FORM, JSON = "application/x-www-form-urlencoded", "application/json"
USER = {"id": REPORTER, "username": "rita", "team_id": "T0STANDIN1"}


def payload(data) -> str:
    return urlencode({"payload": data if isinstance(data, str) else json.dumps(data)})


def command(**fields: str) -> str:
    base = {
        "command": "/sla",
        "text": "status",
        "user_id": REPORTER,
        "channel_id": CHANNEL,
        "team_id": "T0STANDIN1",
        "trigger_id": "1.2.abc",
        "response_url": "http://127.0.0.1:9/r",
    }
    return urlencode({k: v for k, v in {**base, **fields}.items() if v is not None})


def event(ev) -> str:
    return json.dumps({"type": "event_callback", "team_id": "T0STANDIN1", "event_id": "Ev0MALFORMED", "event": ev})


ACTION = {
    "type": "block_actions",
    "user": USER,
    "trigger_id": "1.2.abc",
    "actions": [{"action_id": "ticket_acknowledge", "value": "INC-1"}],
}
SUBMISSION = {
    "type": "view_submission",
    "user": USER,
    "trigger_id": "1.2.abc",
    "view": {"id": "V0MALFORMED", "type": "modal", "callback_id": "incident_step1", "state": {"values": {}}},
}

MALFORMED = {
    "payload is not JSON": (payload("{not json"), FORM),
    "payload is a list": (payload([1, 2]), FORM),
    "payload is a string": (payload('"block_actions"'), FORM),
    "payload type is a number": (payload({**ACTION, "type": 5}), FORM),
    "payload without a type": (payload({k: v for k, v in ACTION.items() if k != "type"}), FORM),
    "actions not a list": (payload({**ACTION, "actions": "ticket_acknowledge"}), FORM),
    "actions empty": (payload({**ACTION, "actions": []}), FORM),
    "action without action_id": (payload({**ACTION, "actions": [{"value": "INC-1"}]}), FORM),
    "action value a number": (payload({**ACTION, "actions": [{"action_id": "ticket_acknowledge", "value": 1}]}), FORM),
    "block_actions without user": (payload({k: v for k, v in ACTION.items() if k != "user"}), FORM),
    "user a string": (payload({**ACTION, "user": REPORTER}), FORM),
    "team a number": (payload({**ACTION, "team": 5}), FORM),
    "enterprise a number": (payload({**ACTION, "enterprise": 7}), FORM),
    "channel a list": (payload({**ACTION, "channel": ["C1"]}), FORM),
    "view not a dict": (payload({**SUBMISSION, "view": "V1"}), FORM),
    "view without state": (payload({**SUBMISSION, "view": {"id": "V1", "type": "modal", "callback_id": "incident_step1"}}), FORM),
    "view without type": (payload({**SUBMISSION, "view": {k: v for k, v in SUBMISSION["view"].items() if k != "type"}}), FORM),
    "view without callback_id": (
        payload({**SUBMISSION, "view": {k: v for k, v in SUBMISSION["view"].items() if k != "callback_id"}}),
        FORM,
    ),
    "response_url a number": (payload({**ACTION, "response_url": 5}), FORM),
    "attachment action without actions": (payload({"type": "interactive_message", "callback_id": "x", "user": USER}), FORM),
    "workflow step edit without its step": (payload({"type": "workflow_step_edit", "callback_id": "x", "user": USER}), FORM),
    "view state values a list": (payload({**SUBMISSION, "view": {**SUBMISSION["view"], "state": {"values": []}}}), FORM),
    "view input a string": (
        payload({**SUBMISSION, "view": {**SUBMISSION["view"], "state": {"values": {"summary": {"value": "x"}}}}}),
        FORM,
    ),
    "view private_metadata a dict": (payload({**SUBMISSION, "view": {**SUBMISSION["view"], "private_metadata": {}}}), FORM),
    "submission without user": (payload({k: v for k, v in SUBMISSION.items() if k != "user"}), FORM),
    "shortcut without callback_id": (
        payload({"type": "message_action", "user": USER, "trigger_id": "1.2.abc", "channel": {"id": CHANNEL}}),
        FORM,
    ),
    "message_action message a string": (
        payload(
            {
                "type": "message_action",
                "user": USER,
                "trigger_id": "1.2.abc",
                "callback_id": "report_incident",
                "channel": {"id": CHANNEL},
                "message": "hi",
            }
        ),
        FORM,
    ),
    "a number past Python's digit limit": (payload('{"type": "block_actions", "n": ' + "9" * 5000 + "}"), FORM),
    "nested past the recursion limit": (payload("[" * 100_000 + "]" * 100_000), FORM),
    "not UTF-8": (b"command=%2Fsla&text=status&user_id=U0REPORTER&channel_id=C0INCIDENT\xff\xfe", FORM),
    "form said to be JSON": (command(), JSON),
    "form without command": (command(command=None), FORM),
    "command not a slash command": (command(command="sla"), FORM),
    "command without user_id": (command(user_id=None), FORM),
    "command without channel_id": (command(channel_id=None), FORM),
    "command without trigger_id": (command(trigger_id=None), FORM),
    "command user_id not an id": (command(user_id="<!channel>"), FORM),
    "command user_id too long": (command(user_id="U" * 200), FORM),
    "command text with a NUL": (command(text="update INC-1 \x00"), FORM),
    "response_url not a URL": (command(response_url="null"), FORM),
    "event text with a NUL": (event({"type": "app_mention", "user": REPORTER, "channel": CHANNEL, "text": "a\x00", "ts": "1.1"}), JSON),
    "JSON body a list": ("[1, 2]", JSON),
    "event not a dict": (event(["app_mention"]), JSON),
    "event without type": (event({"user": REPORTER, "channel": CHANNEL, "text": "hi", "ts": "1.1"}), JSON),
    "app_mention text a number": (event({"type": "app_mention", "user": REPORTER, "channel": CHANNEL, "text": 5, "ts": "1.1"}), JSON),
    "app_mention without channel": (event({"type": "app_mention", "user": REPORTER, "text": "hi", "ts": "1.1"}), JSON),
    "message thread_ts a number": (
        event({"type": "message", "user": REPORTER, "channel": CHANNEL, "text": "hi", "ts": "1.1", "thread_ts": 1.0}),
        JSON,
    ),
    "app_home_opened without user": (event({"type": "app_home_opened", "tab": "home"}), JSON),
    "url_verification without challenge": (json.dumps({"type": "url_verification"}), JSON),
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_malformed_request_gets_400_and_one_log_line(bot, caplog, name: str) -> None:
    setup_workspace(bot)
    body, content_type = MALFORMED[name]
    with caplog.at_level(logging.INFO):
        r = await bot.sender.send(body, content_type)
    assert r.status == 400, (r.status, r.text)
    refused = [rec for rec in caplog.records if rec.name == "bot.app" and "malformed" in rec.getMessage()]
    assert len(refused) == 1, [rec.getMessage() for rec in caplog.records]
    assert refused[0].exc_info is None and "\n" not in refused[0].getMessage()
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR or rec.exc_info]
    assert not bot.slack.calls_to("chat.postEphemeral") and not bot.slack.response_posts


async def test_malformed_request_badly_signed_gets_bolts_401(bot) -> None:
    body, content_type = MALFORMED["payload is not JSON"]
    r = await bot.sender.send(body, content_type, signature="v0=" + "0" * 64)
    assert r.status == 401 and r.json == {"error": "invalid request"}
    r = await bot.sender.send(MALFORMED["not UTF-8"][0], FORM, signature="")
    assert r.status == 401
    r = await bot.sender.send(MALFORMED["payload is not JSON"][0], FORM, signature="v0=ü")  # compare_digest refuses non-ASCII str
    assert r.status == 401
    r = await bot.sender.send(MALFORMED["payload is not JSON"][0], FORM, headers={"X-Slack-Request-Timestamp": "soon"})
    assert r.status == 401


async def test_well_formed_requests_still_reach_bolt(bot) -> None:
    setup_workspace(bot)
    r = await bot.sender.url_verification("abc123")
    assert r.status == 200 and r.json == {"challenge": "abc123"}
    r = await bot.sender.send(urlencode({"ssl_check": "1", "token": "x"}), FORM)  # Slack's certificate check
    assert r.status == 200
    r = await bot.sender.send_payload({"type": "dialog_submission", "user": USER, "callback_id": "old", "submission": {}})
    assert r.status == 404  # well-formed, and no listener for it: bolt's answer, at once
    r = await bot.sender.slash_command("/sla", "help", REPORTER, CHANNEL)
    assert r.status == 200
    r = await bot.sender.send(MALFORMED["payload is not JSON"][0], FORM, timestamp=1)  # a valid signature, but stale
    assert r.status == 401


# -- well-formed, but not something the listener can do: one clear message, never "Something went wrong" --------


async def test_report_button_and_global_shortcut_without_a_channel_say_where_to_report(bot, caplog) -> None:
    setup_workspace(bot)
    with caplog.at_level(logging.INFO):
        assert (await bot.sender.block_action("open_report", REPORTER, value="Checkout is down")).status == 200  # no channel
        assert (await bot.sender.shortcut("report_incident", REPORTER)).status == 200  # the global kind: no message, no channel
        dms = await eventually(lambda: len(bot.slack.calls_to("chat.postMessage")) >= 2 and bot.slack.calls_to("chat.postMessage"))
    assert [c.params["text"] for c in dms] == [NO_CHANNEL, NO_CHANNEL]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_action_modal_with_unreadable_private_metadata_is_out_of_date(bot) -> None:
    setup_workspace(bot)
    bot.services.settings.responder_user_ids = REPORTER
    view = {
        "type": "modal",
        "callback_id": "ticket_resolve_modal",
        "private_metadata": "INC-1",
        "blocks": [
            {
                "type": "input",
                "block_id": "note",
                "label": {"type": "plain_text", "text": "Note"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            }
        ],
    }
    for metadata in ("INC-1", "[]", '{"ticket": 5}'):
        r = await bot.sender.view_submission({**view, "private_metadata": metadata}, REPORTER, {"note": {"value": "fixed"}})
        out_of_date = "This form is out of date: close it and use the ticket's buttons again."
        assert r.json == {"response_action": "errors", "errors": {"note": out_of_date}}


async def test_a_form_that_cannot_open_in_time_says_so(bot, caplog) -> None:
    setup_workspace(bot)
    with caplog.at_level(logging.INFO):
        r = await bot.sender.slash_command("/incident", "Checkout is down", REPORTER, CHANNEL, trigger_id="12345.98765.expired")
        assert r.status == 200
        await eventually(lambda: bot.slack.response_posts)
    assert bot.slack.response_posts[-1].body["text"] == f":x: {FORM_LATE}"
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_a_command_whose_text_holds_the_word_payload_is_read(bot) -> None:
    """slack_bolt's parse_body takes any form body holding "payload" for an interaction (`payload=`) and reads it as {}."""
    setup_workspace(bot)
    r = await bot.sender.slash_command("/sla", "help with the payload", REPORTER, CHANNEL)
    assert r.status == 200
    await eventually(lambda: bot.slack.response_posts)
    assert bot.slack.response_posts[-1].body["text"].startswith("Usage:\n")
