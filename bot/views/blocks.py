"""Shared Block Kit pieces: escaping user text for mrkdwn, dates in each viewer's time zone,
plain text, inputs, sections, and splitting long text under Slack's limits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Sequence

from rules.durations import format_timedelta

Block = dict[str, Any]


def escape(text: str | None) -> str:
    """Slack mrkdwn control characters: `<!channel>` or `<@U1>` in user text must not ping anyone."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# chat.postMessage: "limit the number of characters in the text field to 4,000 characters" (longer texts are
# cut by Slack at 40,000): https://docs.slack.dev/reference/methods/chat.postMessage ("Truncating content").
MESSAGE_TEXT_MAX = 4000


def fit_text(text: str, more: str, limit: int = MESSAGE_TEXT_MAX) -> str:
    """`text` (already escaped) cut to `limit` characters, ending with `more` (where the rest is) when cut.

    Never cuts inside an entity (`&amp;`) or a mention (`<@U1>`), so the cut shows no broken markup.
    """
    if len(text) <= limit:
        return text
    tail = f"… _({more})_"
    cut = text[: max(0, limit - len(tail))]
    amp, lt = cut.rfind("&"), cut.rfind("<")
    if amp > cut.rfind(";"):
        cut = cut[:amp]
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    return cut + tail


def slack_date(instant: datetime | None, fmt: str = "{date_short_pretty} {time}") -> str:
    """A deadline shown in each viewer's own time zone; the fallback is UTC ISO."""
    if instant is None:
        return "-"
    fallback = instant.astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return f"<!date^{int(instant.timestamp())}^{fmt}|{fallback}>"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:150], "emoji": True}


def _option(value: str, text: str, description: str | None = None) -> dict[str, Any]:
    opt: dict[str, Any] = {"text": _plain(text[:75]), "value": value}
    if description:
        opt["description"] = _plain(description[:75])
    return opt


def _input(block_id: str, label: str, element: dict[str, Any], optional: bool = False, hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": _plain(label), "element": element, "optional": optional}
    if hint:
        block["hint"] = _plain(hint)
    return block


def _text_input(initial: str | None, multiline: bool, max_length: int, placeholder: str) -> dict[str, Any]:
    el: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": max_length,
        "placeholder": _plain(placeholder),
    }
    if initial:
        el["initial_value"] = initial[:max_length]
    return el


SECTION_MAX = 2900  # Slack allows 3000 characters in a section's text
MAX_BLOCKS = 50  # per message; a home tab allows 100
SUMMARY_CHARS = 80


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}
    if block_id:
        block["block_id"] = block_id
    return block


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _header(text: str) -> Block:
    return {"type": "header", "text": _plain(text)}


def human(td: timedelta | None, hours_only: bool = False) -> str:
    """`1d 2h 5m`, `45m`, `<1m`; business time as hours (`25h`), since a business day is not 24 h."""
    if td is None:
        return "-"
    td = abs(td)
    if td < timedelta(minutes=1):
        return "<1m"
    if hours_only and td >= timedelta(days=1):
        minutes = int(td.total_seconds() // 60)
        h, m = divmod(minutes, 60)
        return f"{h}h" + (f" {m}m" if m else "")
    return format_timedelta(td)


_SLACK_USER = re.compile(r"^[UW][A-Z0-9]{2,}$")
_SLACK_CHANNEL = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def user_ref(user_id: str | None) -> str:
    """A mention for a Slack user id; anything else is shown as escaped text, never parsed."""
    if not user_id:
        return "-"
    return f"<@{user_id}>" if _SLACK_USER.match(user_id) else escape(user_id)


def channel_ref(channel_id: str | None) -> str:
    if not channel_id:
        return "-"
    return f"<#{channel_id}>" if _SLACK_CHANNEL.match(channel_id) else escape(channel_id)


def owner(ticket: Any) -> str:
    return user_ref(ticket.assignee_id) if ticket.assignee_id else "unassigned"


def short(text: str, limit: int = SUMMARY_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chunk_sections(title: str, lines: Sequence[str], block_id: str | None = None) -> list[Block]:
    """`title` then the lines, split into sections under Slack's text limit."""
    blocks: list[Block] = []
    current = title
    for line in lines:
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > SECTION_MAX and current:
            blocks.append(_section(current))
            current = line
        else:
            current = candidate
    if current:
        blocks.append(_section(current))
    if block_id and blocks:
        blocks[0]["block_id"] = block_id
    return blocks


def _capped(lines: list[str], limit: int, more: str) -> list[str]:
    if len(lines) <= limit:
        return lines
    return lines[:limit] + [f"…and {len(lines) - limit} more {more}"]


def _cap_blocks(blocks: list[Block], limit: int = MAX_BLOCKS) -> list[Block]:
    if len(blocks) <= limit:
        return blocks
    return blocks[: limit - 1] + [_context("_More than fits in one message: narrow it down, or use the CSV._")]
