"""Tests for the Slack stand-in (tests/slack_standin): the sender that signs requests to a bot
exactly as Slack does, and a real slack_bolt AsyncApp served over aiohttp against the stand-in.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from tests.slack_standin import SlackSender, SlackStandIn, slack_signature
from tests.standin_fixtures import MODAL, SECRET, Receiver, serve  # fixtures slack, client, receiver: tests/conftest.py

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


async def test_interactivity_payload_shapes(slack: SlackStandIn, client: AsyncWebClient, receiver: tuple[Receiver, str]) -> None:
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

    runner, url = await serve(app.web_app())
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
