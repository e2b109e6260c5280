"""The bot in its customers' channels: Slack sends message events only for channels the bot is a member of,
so thread replies by responders reach it only there (https://docs.slack.dev/reference/events/message.channels).

Used by `/sla customers add` and `triage-bot customers add`: join public channels (`conversations.join`,
scope `channels:join`), and say plainly what the admin must do where the bot cannot join.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

INVITE = "invite me there with `/invite @triage-bot`"


async def join_channels(client: AsyncWebClient | None, channel_ids: list[str]) -> list[str]:
    """Join each channel; one line per channel saying what happened or what the admin must do."""
    lines: list[str] = []
    for channel in dict.fromkeys(channel_ids):
        if client is None:
            lines.append(f"I could not join <#{channel}> (SLACK_BOT_TOKEN is not set here): {INVITE}.")
            continue
        if channel.startswith("G"):
            lines.append(f"<#{channel}> is private, so I cannot join it myself: {INVITE}.")
            continue
        try:
            await client.conversations_join(channel=channel)
        except SlackApiError as e:
            error = str(e.response.get("error"))
            why = {
                "method_not_supported_for_channel_type": "it is private",
                "is_archived": "it is archived",
                "channel_not_found": "Slack does not know it (or it is private)",
                "missing_scope": "the app lacks the channels:join scope (reinstall it from app-manifest.yml)",
            }.get(error, f"Slack said {error}")
            lines.append(f"I could not join <#{channel}> ({why}): {INVITE}, or replies in its threads will not reach me.")
        else:
            lines.append(f"I joined <#{channel}>, so replies in ticket threads there reach me.")
    return lines
