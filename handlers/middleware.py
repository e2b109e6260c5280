"""What every listener shares: `services` and `roles` in `context`, who may run what, and the one
mapping from an exception to the person's reply (Dispatch's `app_error_handler`, bolt's `middleware=`).

- `install(app, services, roles)`: a global middleware puts `services` and `roles` into `context`;
  `app.error` is `on_error`.
- `require(role, refusal)`: listener middleware. Someone without the role is refused with
  `refusal` and a log line naming the request, and the listener never runs.
- `errors_in(block_id)`: listener middleware for modal submissions: which input shows an error.

Listeners raise, they do not catch. `on_error` answers as the request kind needs:

    slash command        ephemeral, through response_url: ":x: message"
    button, shortcut     ephemeral in the channel (a DM when the bot cannot post there)
    modal submission     the error under the `errors_in` input, the modal stays open with what was typed
    event                logged only

A `TriageError` is the person's (or the operator's) to fix: its message is shown as is. A database that
is not answering is `Unavailable`: one log line, and "try again in a minute" (in a modal, what was typed
stays). Anything else is a bug: logged with its stack, and the person told it is logged.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import slack_error_code
from bot.roles import Role, Roles
from bot.views.blocks import escape
from rules.errors import ConfigError, Conflict, NotAllowed, TriageError, Unavailable
from storage.db import database_unavailable
from storage.ops import ping

log = logging.getLogger(__name__)

Middleware = Callable[..., Awaitable[BoltResponse | None]]  # a response answers the request instead of the listener
UNEXPECTED = "Something went wrong; it is logged. Try again, or tell an admin."
DATABASE_DOWN = "Could not do that just now: the database is not answering, so nothing was saved. Try again in a minute."
DATABASE_DOWN_IN_MODAL = "Could not save just now: the database is not answering. What you typed is kept here: submit again in a minute."
TRIGGER_GONE = ("expired_trigger_id", "exchanged_trigger_id", "invalid_trigger_id")  # views.open after Slack's 3 s, or again
FORM_LATE = "The form could not open in time (Slack gives a bot 3 seconds). Try again."


def install(app: AsyncApp, services: Any, roles: Roles) -> None:
    """Give every listener `context["services"]` and `context["roles"]`, and route every error to `on_error`."""

    async def inject(context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        context["services"], context["roles"] = services, roles
        if context.get("ack") is None or context["ack"].response is None:
            context["ack"] = KeptAck()
        await next()

    app.use(inject)
    app.use(events_wait_for_the_database)
    app.error(on_error)


async def events_wait_for_the_database(
    body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[None]]
) -> BoltResponse | None:
    """An event is acknowledged before its listener runs, so a database that is down would lose it (a responder's
    thread reply that is a first response). Checked first instead: a 503 makes Slack send it again (after about
    1 and 5 minutes); its `event_id` keeps the repeat from counting twice."""
    if body.get("type") == "event_callback":
        try:
            await ping(context["services"].engine)
        except Exception as e:
            if (why := database_unavailable(e)) is None:
                raise
            log.warning("event %s answered 503, for Slack to send again: the database is not answering (%s)", body.get("event_id"), why)
            return BoltResponse(status=503, body="")
    await next()
    return None


class KeptAck(AsyncAck):
    """An ack that stays given. With `process_before_response=False`, bolt (1.30) sets `ack.response`
    back to None when a listener raises after `ack()`; if that happens before its dispatcher polls
    (every 10 ms), the request counts as never acknowledged: a 3 s wait, then the next listener."""

    @property
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is not None or getattr(self, "_response", None) is None:
            self._response = value


def user_of(body: dict[str, Any]) -> str:
    """Who sent the request, whatever its kind."""
    if "user_id" in body:  # slash command
        return str(body["user_id"])
    user = body.get("user") or (body.get("event") or {}).get("user") or ""
    return str(user["id"] if isinstance(user, dict) else user)


def describe(body: dict[str, Any]) -> str:
    """The request in a log line: `/sla status from U1`, `ticket_resolve_modal submission by U1`, `ticket_acknowledge by U1`."""
    user = user_of(body)
    if "command" in body:
        words = (body.get("text") or "").split()
        name = f"{body['command']} {words[0].lower()}" if body["command"] == "/sla" and words else body["command"]
        return f"{name} from {user}"
    if body.get("type") == "view_submission":
        return f"{body['view'].get('callback_id')} submission by {user}"
    actions = body.get("actions") or [{}]
    return f"{actions[0].get('action_id') or body.get('callback_id') or body.get('type')} by {user}"


def require(role: Role, refusal: str) -> Middleware:
    """Listener middleware: only people with `role` get past it; others get `refusal`, and it is logged."""

    async def check_role(body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        if not await context["roles"].has(user_of(body), role):
            article = "an" if role.value[0] in "aeiou" else "a"
            log.warning("refused %s: not %s %s", describe(body), article, role.value)
            raise NotAllowed(refusal)
        await next()

    return check_role


def errors_in(block_id: str, unexpected: str = UNEXPECTED) -> Middleware:
    """Listener middleware for a modal submission: errors show under `block_id`; `unexpected` is said for a bug."""

    async def error_block(context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        context["error_block"], context["unexpected_error"] = block_id, unexpected
        await next()

    return error_block


async def tell(client: AsyncWebClient, channel_id: str | None, user_id: str, text: str) -> None:
    """Ephemeral in the channel; a DM when there is no channel or the bot cannot post there; a log line when
    Slack takes neither (it is down: a 5xx, a proxy's text/plain page, no answer)."""
    if channel_id:
        try:
            await client.chat_postEphemeral(channel=channel_id, user=user_id, text=text)
            return
        except Exception as e:  # noqa: BLE001 - whatever Slack did, the DM may still pass
            why = slack_error_code(e) if isinstance(e, SlackApiError) else f"{type(e).__name__}: {e}"
            log.info("cannot tell %s in %s (%s): sending a DM", user_id, channel_id, why)
    try:
        await client.chat_postMessage(channel=user_id, text=text)
    except Exception as e:  # noqa: BLE001 - nothing else to try; what they would have been told is logged
        why = slack_error_code(e) if isinstance(e, SlackApiError) else f"{type(e).__name__}: {e}"
        log.warning("cannot tell %s at all (%s): %s", user_id, why, text.splitlines()[0] if text else "")


async def on_error(
    error: Exception, body: dict[str, Any], context: Any, client: AsyncWebClient, response: BoltResponse | None
) -> BoltResponse | None:
    """The one error-to-reply mapping. Returns the HTTP answer when the request is not acknowledged yet."""
    if not isinstance(error, TriageError) and (why := database_unavailable(error)):
        log.warning("%s not done: the database is not answering (%s)", describe(body), why)
        error = Unavailable(DATABASE_DOWN_IN_MODAL if body.get("type") == "view_submission" else DATABASE_DOWN)
    elif isinstance(error, SlackApiError) and slack_error_code(error) in TRIGGER_GONE:  # a form opened too late, or twice
        log.warning("%s: the form did not open (%s)", describe(body), slack_error_code(error))
        error = Conflict(FORM_LATE)
    expected = isinstance(error, TriageError)
    if not expected:
        log.error("handler failed for %s", describe(body), exc_info=error)
    elif isinstance(error, ConfigError):
        log.error("%s: %s", describe(body), error)
    unacked = response is not None
    user = user_of(body)
    from handlers.dedupe import release  # (imports this module)

    await release(context)  # a failed request may be sent again: it is not a repeat

    if body.get("type") == "view_submission":
        text = str(error) if expected else context.get("unexpected_error", UNEXPECTED)
        block = context.get("error_block") or _first_input(body["view"])
        if unacked and block:
            return BoltResponse(status=200, body={"response_action": "errors", "errors": {block: text}})
        await tell(client, None, user, text)
        return None

    if "command" in body:
        if isinstance(error, NotAllowed):
            text = str(error)
        elif isinstance(error, Unavailable):
            text = f":hourglass_flowing_sand: {error}"
        elif expected:
            text = f":x: {escape(str(error))}"
        else:
            name = describe(body).rsplit(" from ", 1)[0]
            text = f":warning: Something went wrong running `{escape(name)}`; it is logged. Try again, or tell an admin."
        await context.respond(text=text, response_type="ephemeral", replace_original=False)
    elif body.get("type") in ("block_actions", "message_action", "shortcut"):
        # A message may quote a button's value, which a forged payload controls: escaped like a command's.
        text = (str(error) if isinstance(error, NotAllowed) else escape(str(error))) if expected else UNEXPECTED
        await tell(client, (body.get("channel") or {}).get("id"), user, text)
    elif expected:  # an event: nobody to answer
        log.info("%s not done: %s", describe(body), error)
    return BoltResponse(status=200, body="") if unacked else None


def _first_input(view: dict[str, Any]) -> str | None:
    return next((b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"), None)
