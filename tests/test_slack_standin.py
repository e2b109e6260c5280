"""Tests for the Slack stand-in (tests/slack_standin): its Web API.

The stand-in is only useful if the real clients accept it, so everything is
driven through slack_sdk's AsyncWebClient / AsyncWebhookClient. The sender (signed
requests to a bot) and a real slack_bolt app against it: tests/test_slack_standin_sender.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack_standin import SlackStandIn
from tests.standin_fixtures import MODAL  # fixtures slack, client, receiver: tests/conftest.py

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
    resp = await client.api_call("chat.postMessage", data={"channel": "#incidents", "text": "P1", "blocks": json.dumps(blocks)})
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
    resp = await client.files_upload_v2(channel="C1", content="disk full at 03:12", filename="log.txt", initial_comment="logs")
    file_id = resp["file"]["id"]
    assert slack.files[file_id].content == b"disk full at 03:12"
    assert slack.files[file_id].channels == ["C1"]
    shared = slack.messages_in("C1")[-1]
    assert shared.text == "logs" and shared.files is not None and shared.files[0]["id"] == file_id


async def test_upload_url_takes_files_over_a_megabyte_and_refuses_over_slacks_limit(
    slack: SlackStandIn, client: AsyncWebClient, monkeypatch
) -> None:
    import aiohttp

    import tests.slack_standin.server as server

    big = b"x" * 3_000_000  # a 10k-ticket report's CSV is this size: over the API methods' 1 MiB request cap
    resp = await client.files_upload_v2(channel="C1", content=big, filename="report.csv")
    assert slack.files[resp["file"]["id"]].content == big
    with pytest.raises(SlackApiError):  # the API methods themselves keep the 1 MiB cap
        await client.chat_postMessage(channel="C1", text="y" * 1_100_000)
    monkeypatch.setattr(server, "UPLOAD_LIMIT", 2_000_000)  # Slack's is 1 GB: too much to send in a test
    ticket = await client.files_getUploadURLExternal(filename="a.csv", length=len(big))
    async with aiohttp.ClientSession() as http:
        async with http.post(ticket["upload_url"], data=big) as r:
            assert r.status == 413
        form = aiohttp.FormData()
        form.add_field("file", big, filename="a.csv")
        async with http.post(ticket["upload_url"], data=form) as r:
            assert r.status == 413
        form = aiohttp.FormData()
        form.add_field("file", b"small", filename="a.csv")
        async with http.post(ticket["upload_url"], data=form) as r:
            assert r.status == 200
    assert slack.files[ticket["file_id"]].content == b"small"


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
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01))],
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
