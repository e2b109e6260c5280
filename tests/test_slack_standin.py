"""Tests for the Slack stand-in (tests/slack_standin).

The stand-in is only useful if the real clients accept it, so everything is
driven through slack_sdk's AsyncWebClient / AsyncWebhookClient and, at the
end, a real slack_bolt AsyncApp served over aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.slack_standin import SlackSender, SlackStandIn, slack_signature

SECRET = "test-signing-secret"

MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "triage_modal",
    "title": {"type": "plain_text", "text": "New incident"},
    "submit": {"type": "plain_text", "text": "Create"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title_block",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "title"},
        }
    ],
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as standin:
        standin.add_user("U1", "alice", real_name="Alice Adams", tz="Europe/Berlin", email="alice@example.com")
        standin.add_user("U2", "bob", real_name="Bob Brown", tz="America/New_York")
        standin.add_channel("C1", "incidents")
        standin.add_usergroup("S1", "oncall", users=["U1", "U2"], name="On-call")
        yield standin


@pytest.fixture
def client(slack: SlackStandIn) -> AsyncWebClient:
    return AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    """Run an aiohttp app on 127.0.0.1:<ephemeral>; returns runner and base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return runner, f"http://127.0.0.1:{sock.getsockname()[1]}"


class Receiver:
    """A tiny bot endpoint: verifies Slack signatures with slack_sdk and records requests."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.requests: list[dict[str, Any]] = []
        self.reply: dict[str, Any] | None = None  # JSON body to answer with

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        valid = self.verifier.is_valid(
            body=body,
            timestamp=request.headers.get("X-Slack-Request-Timestamp", ""),
            signature=request.headers.get("X-Slack-Signature", ""),
        )
        if not valid:
            return web.Response(status=401, text="invalid signature")
        if request.content_type == "application/json":
            parsed: dict[str, Any] = json.loads(body)
        else:
            parsed = dict(parse_qsl(body, keep_blank_values=True))
            if "payload" in parsed:
                parsed = json.loads(parsed["payload"])
        self.requests.append({"headers": dict(request.headers), "body": parsed, "content_type": request.content_type})
        if parsed.get("type") == "url_verification":
            return web.json_response({"challenge": parsed["challenge"]})
        if self.reply is not None:
            return web.json_response(self.reply)
        return web.Response(status=200)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    recv = Receiver()
    app = web.Application()
    app.router.add_post("/slack/events", recv.handle)
    runner, url = await _serve(app)
    try:
        yield recv, url
    finally:
        await runner.cleanup()


# --------------------------------------------------------------------------- auth & dispatch


async def test_auth_test_and_token_checks(slack: SlackStandIn, client: AsyncWebClient) -> None:
    resp = await client.auth_test()
    assert resp["ok"] is True
    assert resp["user_id"] == slack.bot_user_id
    assert resp["bot_id"] == slack.bot_id
    assert resp["team_id"] == slack.team_id

    with pytest.raises(SlackApiError) as missing:
        await AsyncWebClient(base_url=slack.api_url).auth_test()
    assert missing.value.response["error"] == "not_authed"

    with pytest.raises(SlackApiError) as wrong:
        await AsyncWebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    assert wrong.value.response["error"] == "invalid_auth"
    assert wrong.value.response.status_code == 200

    with pytest.raises(SlackApiError) as unknown:
        await client.api_call("nope.nothing")
    assert unknown.value.response["error"] == "unknown_method"


async def test_calls_are_recorded(slack: SlackStandIn, client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel="C1", text="one")
    await client.users_info(user="U1")

    assert [c.method for c in slack.calls] == ["chat.postMessage", "users.info"]
    method, params, response = slack.calls_to("chat.postMessage")[0]
    assert method == "chat.postMessage"
    assert params["text"] == "one"
    assert "token" not in params
    assert response["ok"] is True and response["ts"]


async def test_two_stand_ins_do_not_share_port_or_state() -> None:
    async with SlackStandIn() as first, SlackStandIn() as second:
        assert first.port != second.port
        first.add_channel("C1", "a")
        await AsyncWebClient(token=first.bot_token, base_url=first.api_url).chat_postMessage(channel="C1", text="x")
        assert len(first.messages) == 1 and second.messages == []


# --------------------------------------------------------------------------- messages


async def test_post_thread_and_update(slack: SlackStandIn, client: AsyncWebClient) -> None:
    parent = await client.chat_postMessage(channel="C1", text="Incident #1")
    assert parent["channel"] == "C1"
    assert parent["message"]["bot_id"] == slack.bot_id
    assert parent["message"]["user"] == slack.bot_user_id

    reply = await client.chat_postMessage(channel="C1", text="SLA: 4h", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert float(reply["ts"]) > float(parent["ts"])

    updated = await client.chat_update(channel="C1", ts=parent["ts"], text="Incident #1 (ack)")
    assert updated["text"] == "Incident #1 (ack)"
    assert updated["message"]["edited"]["ts"]

    assert [m.text for m in slack.messages_in("C1")] == ["Incident #1 (ack)"]
    assert [m.text for m in slack.messages_in("#incidents", thread_ts=parent["ts"])] == [
        "Incident #1 (ack)",
        "SLA: 4h",
    ]
    message = slack.find_message("C1", parent["ts"])
    assert message is not None and message.history[0]["text"] == "Incident #1"

    with pytest.raises(SlackApiError) as not_found:
        await client.chat_update(channel="C1", ts="1.000001", text="x")
    assert not_found.value.response["error"] == "message_not_found"

    human = slack.add_message("C1", "I wrote this", user="U1")
    with pytest.raises(SlackApiError) as not_ours:
        await client.chat_update(channel="C1", ts=human.ts, text="x")
    assert not_ours.value.response["error"] == "cant_update_message"


async def test_post_message_form_encoded_blocks_and_errors(slack: SlackStandIn, client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*P1*"}}]
    # Form-encoded with blocks as a JSON string, as many clients send it.
    resp = await client.api_call(
        "chat.postMessage", data={"channel": "#incidents", "text": "P1", "blocks": json.dumps(blocks)}
    )
    assert resp["channel"] == "C1"
    assert slack.messages[-1].blocks == blocks

    dm = await client.chat_postMessage(channel="U1", text="you are on call")
    assert dm["channel"] == "D1"

    for payload, error in [
        ({"channel": "C404", "text": "x"}, "channel_not_found"),
        ({"channel": "C1"}, "no_text"),
    ]:
        with pytest.raises(SlackApiError) as exc:
            await client.api_call("chat.postMessage", json=payload)
        assert exc.value.response["error"] == error


async def test_non_strict_stand_in_creates_channels() -> None:
    async with SlackStandIn(strict=False) as slack:
        client = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
        await client.chat_postMessage(channel="C9", text="hello")
        assert "C9" in slack.channels and len(slack.messages_in("C9")) == 1


async def test_ephemeral_permalink_and_reactions(slack: SlackStandIn, client: AsyncWebClient) -> None:
    eph = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert eph["message_ts"]
    assert slack.ephemeral_messages[0].ephemeral_to == "U1"
    assert slack.messages == []

    parent = await client.chat_postMessage(channel="C1", text="p")
    reply = await client.chat_postMessage(channel="C1", text="r", thread_ts=parent["ts"])
    link = await client.chat_getPermalink(channel="C1", message_ts=reply["ts"])
    assert link["permalink"].startswith("https://standin.slack.com/archives/C1/p")
    assert f"thread_ts={parent['ts']}" in link["permalink"]

    await client.reactions_add(channel="C1", timestamp=parent["ts"], name="eyes")
    assert slack.messages[0].reactions == {"eyes": [slack.bot_user_id]}
    with pytest.raises(SlackApiError) as again:
        await client.reactions_add(channel="C1", timestamp=parent["ts"], name="eyes")
    assert again.value.response["error"] == "already_reacted"


# --------------------------------------------------------------------------- directory


async def test_users_groups_and_conversations(slack: SlackStandIn, client: AsyncWebClient) -> None:
    info = await client.users_info(user="U1")
    user = info["user"]
    assert (user["id"], user["name"], user["real_name"], user["tz"]) == ("U1", "alice", "Alice Adams", "Europe/Berlin")
    berlin_offset = datetime.now(ZoneInfo("Europe/Berlin")).utcoffset()
    assert berlin_offset is not None and user["tz_offset"] == int(berlin_offset.total_seconds())

    by_email = await client.users_lookupByEmail(email="ALICE@example.com")
    assert by_email["user"]["id"] == "U1"

    groups = await client.usergroups_list(include_users=True)
    assert groups["usergroups"][0]["handle"] == "oncall"
    assert groups["usergroups"][0]["users"] == ["U1", "U2"]
    members = await client.usergroups_users_list(usergroup="S1")
    assert members["users"] == ["U1", "U2"]

    channel = await client.conversations_info(channel="C1")
    assert channel["channel"]["name"] == "incidents" and channel["channel"]["is_channel"] is True

    opened = await client.conversations_open(users="U2")
    assert opened["channel"]["id"] == "D2"
    again = await client.conversations_open(users=["U2"])
    assert again["already_open"] is True

    for call, error in [
        (client.users_info(user="U404"), "user_not_found"),
        (client.users_lookupByEmail(email="nobody@example.com"), "users_not_found"),
        (client.usergroups_users_list(usergroup="S404"), "no_such_subteam"),
        (client.conversations_info(channel="C404"), "channel_not_found"),
        (client.conversations_open(users="U404"), "user_not_found"),
    ]:
        with pytest.raises(SlackApiError) as exc:
            await call
        assert exc.value.response["error"] == error


async def test_files_upload_v2_is_recorded(slack: SlackStandIn, client: AsyncWebClient) -> None:
    resp = await client.files_upload_v2(
        channel="C1", content="disk full at 03:12", filename="log.txt", initial_comment="logs"
    )
    file_id = resp["file"]["id"]
    assert slack.files[file_id].content == b"disk full at 03:12"
    assert slack.files[file_id].channels == ["C1"]
    shared = slack.messages_in("C1")[-1]
    assert shared.text == "logs" and shared.files is not None and shared.files[0]["id"] == file_id


# --------------------------------------------------------------------------- triggers & views


async def test_views_open_push_update_with_trigger_rules(slack: SlackStandIn, client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as nothing_open:
        await client.views_push(trigger_id=slack.new_trigger_id("U1"), view=MODAL)
    assert nothing_open.value.response["error"] == "not_found"

    trigger = slack.new_trigger_id("U1")
    opened = (await client.views_open(trigger_id=trigger, view=MODAL))["view"]
    assert opened["id"].startswith("V") and opened["hash"]
    assert opened["root_view_id"] == opened["id"] and opened["callback_id"] == "triage_modal"
    assert slack.last_view() == opened == slack.views[opened["id"]]

    with pytest.raises(SlackApiError) as reused:
        await client.views_open(trigger_id=trigger, view=MODAL)
    assert reused.value.response["error"] == "exchanged_trigger_id"

    with pytest.raises(SlackApiError) as unknown:
        await client.views_open(trigger_id="12345.98765.abcd2358fdea", view=MODAL)
    assert unknown.value.response["error"] == "invalid_trigger_id"

    pushed = (await client.views_push(trigger_id=slack.new_trigger_id("U1"), view=MODAL))["view"]
    assert pushed["root_view_id"] == opened["id"] and pushed["previous_view_id"] == opened["id"]
    await client.views_push(trigger_id=slack.new_trigger_id("U1"), view=MODAL)
    with pytest.raises(SlackApiError) as too_many:
        await client.views_push(trigger_id=slack.new_trigger_id("U1"), view=MODAL)
    assert too_many.value.response["error"] == "push_limit_reached"
    assert [v["id"] for v in slack.view_stack("U1")][:2] == [opened["id"], pushed["id"]]

    new_modal = {**MODAL, "title": {"type": "plain_text", "text": "Updated"}, "external_id": "inc-1"}
    updated = (await client.views_update(view_id=opened["id"], hash=opened["hash"], view=new_modal))["view"]
    assert updated["id"] == opened["id"] and updated["title"]["text"] == "Updated"
    assert updated["hash"] != opened["hash"]
    with pytest.raises(SlackApiError) as stale:
        await client.views_update(view_id=opened["id"], hash=opened["hash"], view=new_modal)
    assert stale.value.response["error"] == "hash_conflict"
    by_external = await client.views_update(external_id="inc-1", view=new_modal)
    assert by_external["view"]["id"] == opened["id"]
    with pytest.raises(SlackApiError) as missing:
        await client.views_update(view_id="V404", view=new_modal)
    assert missing.value.response["error"] == "not_found"


async def test_trigger_expires_after_ttl(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.trigger_ttl = 0.2
    trigger = slack.new_trigger_id("U1")
    await asyncio.sleep(0.3)
    with pytest.raises(SlackApiError) as expired:
        await client.views_open(trigger_id=trigger, view=MODAL)
    assert expired.value.response["error"] == "expired_trigger_id"
    assert slack.views == {}


async def test_views_publish_app_home(slack: SlackStandIn, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "2 open"}}]}
    first = (await client.views_publish(user_id="U1", view=home))["view"]
    second = (await client.views_publish(user_id="U1", view=home, hash=first["hash"]))["view"]
    assert first["type"] == "home" and second["id"] == first["id"] == slack.home_views["U1"]
    with pytest.raises(SlackApiError) as bad_user:
        await client.views_publish(user_id="U404", view=home)
    assert bad_user.value.response["error"] == "invalid_arguments"


# --------------------------------------------------------------------------- faults


async def test_rate_limit_is_retried_by_slack_sdk(slack: SlackStandIn) -> None:
    # Without a retry handler the raw 429 and its Retry-After header surface.
    slack.fail_next("chat.postMessage", status=429)
    plain = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    with pytest.raises(SlackApiError) as limited:
        await plain.chat_postMessage(channel="C1", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers.get("Retry-After") == "1"
    assert limited.value.response["error"] == "ratelimited"

    # retry_after=0 keeps the test fast (the handler sleeps Retry-After + jitter < 1 s).
    slack.fail_next("chat.postMessage", status=429, retry_after=0)
    retrying = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    resp = await retrying.chat_postMessage(channel="C1", text="after retry")
    assert resp["ok"] is True
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 429, 200]
    assert [m.text for m in slack.messages] == ["after retry"]  # failed calls had no effect


async def test_server_error_is_retried_by_slack_sdk(slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", status=500, times=2)
    retrying = AsyncWebClient(
        token=slack.bot_token,
        base_url=slack.api_url,
        retry_handlers=[
            AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01))
        ],
    )
    resp = await retrying.chat_postMessage(channel="C1", text="eventually")
    assert resp["ok"] is True
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [500, 500, 200]

    slack.fail_next("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as failed:
        await AsyncWebClient(token=slack.bot_token, base_url=slack.api_url).chat_postMessage(channel="C1", text="x")
    assert failed.value.response.status_code == 500


async def test_error_injection_times_and_delay(slack: SlackStandIn, client: AsyncWebClient) -> None:
    slack.fail_next("users.info", error="fatal_error", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as exc:
            await client.users_info(user="U1")
        assert exc.value.response["error"] == "fatal_error"
        assert exc.value.response.status_code == 200
    assert (await client.users_info(user="U1"))["ok"] is True

    slack.delay("auth.test", 0.3)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(client.auth_test(), timeout=0.1)
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.3
    slack.delay("auth.test", 0)
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started < 0.3


# --------------------------------------------------------------------------- sender


async def test_sender_signature_verified_by_slack_sdk(receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    sender = SlackSender(url, SECRET)  # base URL: /slack/events is appended
    ok = await sender.slash_command("/triage", "disk full", "U1", "C1")
    assert ok.status == 200

    body = "token=x&text=hi"
    ts = str(int(time.time()))
    assert SignatureVerifier(SECRET).is_valid(body=body, timestamp=ts, signature=sender.sign(body, ts))
    assert sender.sign(body, ts) == slack_signature(SECRET, ts, body)

    tampered = await sender.send_form({"text": "hi"}, signature="v0=" + "0" * 64)
    assert tampered.status == 401
    stale = await sender.send_form({"text": "hi"}, timestamp=int(time.time()) - 600)
    assert stale.status == 401
    assert len(recv.requests) == 1


async def test_slash_command_shape_and_response_url(slack: SlackStandIn, receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    sender = SlackSender(url + "/slack/events", SECRET, slack=slack)
    await sender.slash_command("/triage", "db down", "U1", "C1")

    request = recv.requests[0]
    assert request["content_type"] == "application/x-www-form-urlencoded"
    form = request["body"]
    assert form["command"] == "/triage" and form["text"] == "db down"
    assert (form["user_id"], form["user_name"], form["channel_id"], form["channel_name"]) == (
        "U1",
        "alice",
        "C1",
        "incidents",
    )
    assert form["team_id"] == slack.team_id and form["api_app_id"] == slack.app_id
    assert form["trigger_id"] in slack.triggers
    assert form["response_url"].startswith(f"{slack.base_url}/response_url/")

    webhook = AsyncWebhookClient(form["response_url"])
    assert (await webhook.send(text="only you see this")).status_code == 200
    assert (await webhook.send(text="everyone sees this", response_type="in_channel")).body == "ok"
    assert [p.body["text"] for p in slack.response_posts] == ["only you see this", "everyone sees this"]
    assert slack.ephemeral_messages[0].ephemeral_to == "U1"
    assert [m.text for m in slack.messages_in("C1")] == ["everyone sees this"]


async def test_events_envelope_retries_and_url_verification(receiver: tuple[Receiver, str]) -> None:
    recv, url = receiver
    sender = SlackSender(url, SECRET)
    challenge = await sender.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert challenge.json == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}

    mention = {"type": "app_mention", "user": "U1", "text": "<@U0STANDBOT> help", "ts": "1.000001", "channel": "C1"}
    await sender.event(mention, event_id="Ev123")
    await sender.event(mention, event_id="Ev123", retry_num=1)
    await sender.event(mention, event_id="Ev123", retry_num=2, retry_reason="http_error")

    first, retry, retry2 = recv.requests[1:]
    envelope = first["body"]
    assert envelope["type"] == "event_callback" and envelope["event"] == mention
    assert envelope["event_id"] == "Ev123" and isinstance(envelope["event_time"], int)
    assert envelope["authorizations"][0]["is_bot"] is True
    assert "X-Slack-Retry-Num" not in first["headers"]
    assert (retry["headers"]["X-Slack-Retry-Num"], retry["headers"]["X-Slack-Retry-Reason"]) == ("1", "http_timeout")
    assert retry2["headers"]["X-Slack-Retry-Reason"] == "http_error"
    assert retry["body"]["event_id"] == "Ev123"


async def test_interactivity_payload_shapes(
    slack: SlackStandIn, client: AsyncWebClient, receiver: tuple[Receiver, str]
) -> None:
    recv, url = receiver
    sender = SlackSender(url, SECRET, slack=slack)
    card = await client.chat_postMessage(channel="C1", text="Incident card")

    await sender.block_action("ack_button", "U1", value="inc-1", channel_id="C1", message_ts=card["ts"])
    await sender.shortcut("new_incident", "U2")
    await sender.message_action("to_ticket", "U1", "C1", card["ts"])
    assert all(r["content_type"] == "application/x-www-form-urlencoded" for r in recv.requests)

    action, shortcut, message_action = (r["body"] for r in recv.requests)
    assert action["type"] == "block_actions"
    assert action["actions"][0]["action_id"] == "ack_button" and action["actions"][0]["value"] == "inc-1"
    assert action["container"] == {
        "type": "message",
        "message_ts": card["ts"],
        "channel_id": "C1",
        "is_ephemeral": False,
    }
    assert action["message"]["text"] == "Incident card" and action["trigger_id"] in slack.triggers
    assert shortcut["type"] == "shortcut" and shortcut["callback_id"] == "new_incident"
    assert shortcut["user"]["id"] == "U2" and "response_url" not in shortcut
    assert message_action["type"] == "message_action" and message_action["message_ts"] == card["ts"]
    assert message_action["message"]["text"] == "Incident card"
    assert message_action["channel"] == {"id": "C1", "name": "incidents"}

    # The action's response_url is bound to the card: replace_original edits it, as in Slack.
    await AsyncWebhookClient(action["response_url"]).send(text="Acked by alice", replace_original=True)
    assert [m.text for m in slack.messages_in("C1")] == ["Acked by alice"]


async def test_view_submission_shape_and_view_lifecycle(
    slack: SlackStandIn, client: AsyncWebClient, receiver: tuple[Receiver, str]
) -> None:
    recv, url = receiver
    sender = SlackSender(url, SECRET, slack=slack)
    view = (await client.views_open(trigger_id=slack.new_trigger_id("U1"), view=MODAL))["view"]
    severity = {
        "type": "static_select",
        "selected_option": {"text": {"type": "plain_text", "text": "P1"}, "value": "p1"},
    }

    recv.reply = {"response_action": "errors", "errors": {"title_block": "Too short"}}
    await sender.view_submission(view, "U1", {"title_block": {"title": "db"}, "sev_block": {"sev": severity}})
    payload = recv.requests[0]["body"]
    assert payload["type"] == "view_submission"
    assert payload["view"]["id"] == view["id"] and payload["view"]["callback_id"] == "triage_modal"
    assert payload["view"]["state"]["values"] == {
        "title_block": {"title": {"type": "plain_text_input", "value": "db"}},
        "sev_block": {"sev": severity},
    }
    assert payload["user"]["id"] == "U1" and payload["team"]["id"] == slack.team_id
    assert [v["id"] for v in slack.view_stack("U1")] == [view["id"]]  # errors keep it open

    recv.reply = None  # empty 200 closes the view, as in Slack
    await sender.view_submission(view, "U1", {"title_block": {"title": "database down"}})
    assert slack.view_stack("U1") == []
    with pytest.raises(SlackApiError) as closed:
        await client.views_update(view_id=view["id"], view=MODAL)
    assert closed.value.response["error"] == "not_found"


# --------------------------------------------------------------------------- end to end with bolt


async def test_bolt_app_against_stand_in(slack: SlackStandIn) -> None:
    """A real AsyncApp: signature check, auth.test, views.open with a live trigger, say()."""
    app = AsyncApp(
        client=AsyncWebClient(token=slack.bot_token, base_url=slack.api_url),
        signing_secret=SECRET,
        process_before_response=True,  # run listeners before answering, so asserts are deterministic
    )

    @app.command("/triage")
    async def open_form(ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=MODAL)
        await respond("Opening the form")

    @app.view("triage_modal")
    async def create_ticket(ack: Any, view: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        title = view["state"]["values"]["title_block"]["title"]["value"]
        await client.chat_postMessage(channel="C1", text=f"Ticket: {title}")

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="On it", thread_ts=event["ts"])

    runner, url = await _serve(app.web_app())
    try:
        sender = SlackSender(url, SECRET, slack=slack)
        assert (await sender.slash_command("/triage", "", "U1", "C1")).status == 200
        modal = slack.last_view()
        assert modal is not None and modal["callback_id"] == "triage_modal"
        assert slack.response_posts[0].body["text"] == "Opening the form"

        assert (await sender.view_submission(modal, "U1", {"title_block": {"title": "API 500s"}})).status == 200
        assert [m.text for m in slack.messages_in("C1")] == ["Ticket: API 500s"]
        assert slack.view_stack("U1") == []

        mention = await sender.app_mention("<@U0STANDBOT> status?", "U1", "C1")
        assert mention.status == 200
        thread_ts = slack.calls_to("chat.postMessage")[-1].params["thread_ts"]
        assert [m.text for m in slack.messages_in("C1", thread_ts=thread_ts)] == ["On it"]

        forged = await sender.send_form({"command": "/triage"}, signature="v0=" + "0" * 64)
        assert forged.status == 401
        assert len(slack.calls_to("auth.test")) >= 1
    finally:
        await runner.cleanup()


# --------------------------------------------------------------------------- Block Kit limits and posting rate


def _modal(**changes: Any) -> dict[str, Any]:
    view = json.loads(json.dumps(MODAL))
    view.update(changes)
    return view


def _input(block_id: str, **element: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": "Label"},
        "element": {"type": "plain_text_input", "action_id": "v", **element},
    }


def _radio(n: int, value: str = "v") -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": f"o{i}"}, "value": f"{value}{i}"} for i in range(n)]
    return {"type": "input", "block_id": "r", "label": {"type": "plain_text", "text": "Pick"},
            "element": {"type": "radio_buttons", "action_id": "a", "options": options}}


@pytest.mark.parametrize(
    ("view", "pointer"),
    [
        (_modal(title={"type": "plain_text", "text": "x" * 25}), "/view/title"),
        (_modal(submit={"type": "plain_text", "text": "x" * 25}), "/view/submit"),
        (_modal(private_metadata="x" * 3001), "/view/private_metadata"),
        (_modal(blocks=[_input("b" * 256)]), "/view/blocks/0/block_id"),
        (_modal(blocks=[_input("a"), _input("a")]), "/view/blocks/1/block_id"),
        (_modal(blocks=[_input("a", action_id="x" * 256)]), "/view/blocks/0/element/action_id"),
        (_modal(blocks=[_input("a", initial_value="x" * 3001)]), "/view/blocks/0/element/initial_value"),
        (_modal(blocks=[_radio(11)]), "/view/blocks/0/element/options"),
        (_modal(blocks=[_radio(2, value="v" * 150)]), "/view/blocks/0/element/options/0/value"),
        (_modal(blocks=[_input(f"b{i}") for i in range(101)]), "/view/blocks"),
        (_modal(submit=None), "/view/blocks/0"),
        (_modal(blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]), "/view/blocks/0/text/text"),
        (_modal(blocks=[{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]), "/view/blocks/0/text"),
        (_modal(blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": ""}}]), "/view/blocks/0/text/text"),
    ],
    ids=["title-25", "submit-25", "private_metadata-3001", "block_id-256", "duplicate-block_id", "action_id-256",
         "initial_value-3001", "radio-11-options", "option-value-151", "modal-101-blocks", "input-without-submit",
         "section-text-3001", "header-151", "empty-text"],
)
async def test_views_over_slack_limits_are_refused_with_a_pointer(
    slack: SlackStandIn, client: AsyncWebClient, view: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client.views_open(trigger_id=slack.new_trigger_id("U1"), view=view)
    assert refused.value.response["error"] == "invalid_arguments"
    messages = refused.value.response["response_metadata"]["messages"]
    assert any(m.endswith(f"[json-pointer:{pointer}]") for m in messages[1:]), messages
    assert slack.views == {} and slack.refusals == [messages]


async def test_views_at_slack_limits_are_accepted(slack: SlackStandIn, client: AsyncWebClient) -> None:
    view = _modal(
        title={"type": "plain_text", "text": "x" * 24},
        private_metadata="x" * 3000,
        blocks=[_input("b" * 255, initial_value="é" * 3000), _radio(10, value="v" * 148)]
        + [_input(f"b{i}") for i in range(98)],
    )
    await client.views_open(trigger_id=slack.new_trigger_id("U1"), view=view)
    assert slack.refusals == []


async def test_messages_over_slack_limits_are_refused(slack: SlackStandIn, client: AsyncWebClient) -> None:
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "ok"}}
    await client.chat_postMessage(channel="C1", text="fifty", blocks=[section] * 50)  # a message takes 50, not 100
    button = {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "x" * 76}}
    for blocks, pointer in [
        ([section] * 51, "/blocks"),
        ([{"type": "actions", "elements": [button]}], "/blocks/0/elements/0/text"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "/blocks/0/elements"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "/blocks/0/fields"),
    ]:
        with pytest.raises(SlackApiError) as refused:
            await client.chat_postMessage(channel="C1", text="x", blocks=blocks)
        assert refused.value.response["error"] == "invalid_blocks"
        assert any(m.endswith(f"[json-pointer:{pointer}]") for m in refused.value.response["response_metadata"]["messages"])
    assert len(slack.messages) == 1 and len(slack.refusals) == 4


async def test_post_message_rate_per_channel(slack: SlackStandIn) -> None:
    """About one post per second per channel, a short burst tolerated, then 429 with Retry-After."""
    slack.add_channel("C2", "other")
    slack.set_post_rate(1.0, burst=3)
    plain = AsyncWebClient(token=slack.bot_token, base_url=slack.api_url)
    for i in range(3):
        await plain.chat_postMessage(channel="C1", text=f"burst {i}")
    with pytest.raises(SlackApiError) as limited:
        await plain.chat_postMessage(channel="C1", text="one too many")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers.get("Retry-After") == "1"
    await plain.chat_postMessage(channel="C2", text="another channel has its own bucket")
    # The bot's client waits Retry-After and gets through.
    retrying = AsyncWebClient(
        token=slack.bot_token, base_url=slack.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)]
    )
    await retrying.chat_postMessage(channel="C1", text="after waiting")
    assert [m.text for m in slack.messages_in("C1")][-1] == "after waiting"
