"""Tests for the Slack stand-in (tests/slack_standin): it refuses what Slack refuses (Block Kit
limits, with Slack's errors) and paces chat.postMessage per channel as Slack does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from tests.slack_standin import SlackStandIn
from tests.standin_fixtures import MODAL  # fixtures slack, client, receiver: tests/conftest.py

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
    return {
        "type": "input",
        "block_id": "r",
        "label": {"type": "plain_text", "text": "Pick"},
        "element": {"type": "radio_buttons", "action_id": "a", "options": options},
    }


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
    ids=[
        "title-25",
        "submit-25",
        "private_metadata-3001",
        "block_id-256",
        "duplicate-block_id",
        "action_id-256",
        "initial_value-3001",
        "radio-11-options",
        "option-value-151",
        "modal-101-blocks",
        "input-without-submit",
        "section-text-3001",
        "header-151",
        "empty-text",
    ],
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
        blocks=[_input("b" * 255, initial_value="é" * 3000), _radio(10, value="v" * 148)] + [_input(f"b{i}") for i in range(98)],
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
