"""Repeated requests are done once: a proxy or Slack re-sending a request (`X-Slack-Retry-Num`), a double click,
a modal submitted twice. Events are deduplicated by `event_id` (`first_time_event`); this is the same for
commands, buttons and modal submissions, by a request key stored like an event id.

The key names what the person asked, not the HTTP request (a double click sends two different requests):

    slash command       user, command, channel and text        repeats within 10 s are one
    button              user, action, value, message or view   repeats within 10 s are one
    modal submission    the view id and what was entered       one, ever (a failed one may be sent again)

A request that fails (the error handler answers it) gives its key back, so trying again is never taken
for a repeat. Only listeners that change something use `once()`; opening a modal or reading a status
twice does no harm.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import timedelta
from typing import Any, Awaitable, Callable

from slack_bolt.response import BoltResponse

from handlers.middleware import Middleware, describe, user_of

log = logging.getLogger(__name__)

REPEAT_WINDOW = timedelta(seconds=10)  # a double click or a re-sent command
SUBMISSION_WINDOW = timedelta(days=30)  # a view is submitted once


def request_key(body: dict[str, Any]) -> tuple[str, timedelta]:
    """The stored key (a hash: the table's id column is short) and how long a repeat of it is ignored."""
    user = user_of(body)
    if "command" in body:
        parts: list[Any] = ["cmd", user, body.get("command"), body.get("channel_id"), (body.get("text") or "").strip()]
        window = REPEAT_WINDOW
    elif body.get("type") == "view_submission":
        view = body.get("view") or {}
        parts, window = ["view", view.get("id"), (view.get("state") or {}).get("values")], SUBMISSION_WINDOW
    else:
        action = (body.get("actions") or [{}])[0]
        where = (body.get("container") or {}).get("message_ts") or (body.get("view") or {}).get("id")
        parts, window = ["act", user, action.get("action_id"), action.get("value"), where], REPEAT_WINDOW
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return f"req:{digest}", window


def once() -> Middleware:
    """Listener middleware: a repeat of a request already taken is answered 200 (acknowledged) and dropped,
    with one log line. (Returning a response, not calling `next`, is how bolt lets listener middleware answer.)"""

    async def dedupe(body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        key, window = request_key(body)
        if not await context["services"].first_request(key, window):
            log.info("repeated request dropped: %s", describe(body))
            return BoltResponse(status=200, body="")
        context["request_key"] = key
        await next()
        return None

    return dedupe


async def release(context: Any) -> None:
    """Give back the key of a request that failed (called by the error handler)."""
    key = context.get("request_key") if hasattr(context, "get") else None
    if not key:
        return
    try:
        await context["services"].release_request(key)
    except Exception as e:  # noqa: BLE001 - the database may be what failed; the key then expires with its window
        log.warning("could not release request key %s: %s", key, e)
