"""Responders work tickets from the announcement's buttons; every action is checked and logged."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any, Callable

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import views
from bot.delivery import Delivery
from bot.roles import Role, Roles
from bot.services import ActionResult, Services, record_action
from bot.views.ticket import UPDATE_INTERVAL_CHOICES
from handlers.dedupe import once
from handlers.middleware import errors_in, require, tell
from rules.actions import ACTIONS, check_allowed
from rules.errors import InvalidInput
from rules.sla import CLOCK_NAMES
from storage.models import Ticket
from storage.tickets import targets_in_force

log = logging.getLogger(__name__)


def _state_value(state: dict[str, Any], block_id: str) -> Any:
    action = next(iter(state.get(block_id, {}).values()), None) or {}
    if "selected_option" in action:
        return (action["selected_option"] or {}).get("value")
    return action.get("value")


def _button_value(action: dict[str, Any]) -> str:
    """What a responder button carries: its ticket (and clock). Every button of ours has one; the edge lets a
    button without a value through, as other actions (selects) have none."""
    value = action.get("value")
    if not isinstance(value, str) or not value:
        raise InvalidInput("This button does not say which ticket it is for: use `/sla` with the ticket id (`/sla ack INC-42`).")
    return value


def _ticket_of(view: dict[str, Any]) -> str:
    """The ticket an action's modal is for: the key its `private_metadata` holds (checked like a typed one)."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = None
    key = meta.get("ticket") if isinstance(meta, dict) else None
    if not isinstance(key, str):
        raise InvalidInput("This form is out of date: close it and use the ticket's buttons again.")
    return key


async def refresh_announcement(client: AsyncWebClient, services: Services, result: ActionResult) -> None:
    ticket = result.ticket
    if not ticket.thread_ts or not ticket.announce_channel_id:
        return
    customer = await services.customer_for_channel(ticket.channel_id)
    try:
        await client.chat_update(
            channel=ticket.announce_channel_id,
            ts=ticket.thread_ts,
            text=views.announcement_text(ticket, result.plan),
            blocks=views.announcement_blocks(ticket, result.plan, result.status, customer.name if customer else None),
        )
    except Exception as e:  # noqa: BLE001 - the buttons' refresh is cosmetic; the next action refreshes again
        log.warning("could not refresh %s: %s", ticket.key, e)


def owed_posts(user_id: str):
    """The posts an action by `user_id` owes (stored with it as outbox rows)."""
    return lambda result: views.action_posts(result, user_id)


async def publish(client: AsyncWebClient, services: Services, delivery: Delivery, result: ActionResult) -> str | None:
    """After an action: deliver what it owes (thread post, the customer's message), then refresh the announcement.

    Returns a line for the responder when something did not go out at once (it is retried), else None.
    """
    delivered = await delivery.deliver(result.post_ids)
    if any(d.state == "sent" for d in delivered):  # a post the customer saw may have made the action count
        ticket = await services.get_ticket(result.ticket.id)
        result = ActionResult(ticket, await services.status_of(ticket), result.plan, result.event, result.post_ids)
    await refresh_announcement(client, services, result)
    return views.delivery_note(result.ticket.key, delivered)


HINT = "Ask a triage-bot admin to add you to the responder group."


def register(app: AsyncApp, services: Services, roles: Roles, delivery: Delivery) -> None:
    def responder_button(action_id: str, kind: str, changes: bool = False):
        """A button only responders may press (`require`): ack, then run; errors go to the one error handler.

        `changes`: it records an action, so a double click or a re-sent request is done once (`once`).
        """
        refusal = f"Only responders can {ACTIONS[kind].permission}. {HINT}"
        middleware = [require(Role.RESPONDER, refusal)] + ([once()] if changes else [])

        def wrap(run):
            @app.action(action_id, middleware=middleware)
            async def handler(ack, body, action, client: AsyncWebClient) -> None:
                await ack()
                await run(body, action, client)

            return run

        return wrap

    def direct(action_id: str, kind: str) -> None:
        @responder_button(action_id, kind, changes=True)
        async def run(body, action, client: AsyncWebClient) -> None:
            user = body["user"]["id"]
            result = await record_action(services, _button_value(action), kind, user, posts=owed_posts(user))
            note = await publish(client, services, delivery, result)
            if note:
                await tell(client, (body.get("channel") or {}).get("id"), user, note)

    @app.event("message")
    async def thread_reply(body, event, client: AsyncWebClient) -> None:
        """A support-side reply the customer can see is a first response, then an update; the reporter's is not.

        In a triage channel's thread the customer sees nothing: the reply is logged as an internal
        note and stops no clock. In the ticket's thread in the customer's own channel, or in the
        customer's thread of a triaged ticket, it counts as posted.
        """
        if event.get("subtype") or event.get("bot_id") or not event.get("thread_ts") or event.get("thread_ts") == event.get("ts"):
            return
        ticket = await services.ticket_by_thread(event["channel"], event["thread_ts"])
        if ticket is None or ticket.state == "resolved" or event.get("user") == ticket.reporter_id:
            return
        if not await roles.is_responder(event.get("user", "")):
            return
        if body.get("event_id") and not await services.first_time_event(body["event_id"]):
            return
        internal = ticket.announce_channel_id != ticket.channel_id and event["channel"] == ticket.announce_channel_id
        kind = "noted" if internal else "acknowledged" if ticket.first_response_at is None else "updated"
        result = await record_action(services, ticket.id, kind, event["user"], data={"text": event.get("text", ""), "ts": event["ts"]})
        await refresh_announcement(client, services, result)

    @responder_button("escalation_ack", "escalation_acknowledged", changes=True)
    async def escalation_ack(body, action, client: AsyncWebClient) -> None:
        """Stops the repeating pings for one clock's breach; the breach itself stays on record."""
        user = body["user"]["id"]
        key, _, clock = _button_value(action).partition("|")
        if clock not in CLOCK_NAMES:
            raise InvalidInput(f"unknown clock {clock!r}; valid: {', '.join(CLOCK_NAMES)}")
        result = await record_action(
            services,
            key,
            "escalation_acknowledged",
            user,
            data={"clock": clock},
            posts=lambda r: [
                ("thread", None, f"<@{user}> {ACTIONS[r.event.kind].thread_verb} {r.ticket.key} ({clock.replace('_', ' ')}): pings stop.")
            ],
        )
        note = views.delivery_note(result.ticket.key, await delivery.deliver(result.post_ids))
        if note:
            await tell(client, (body.get("channel") or {}).get("id"), user, note)

    direct("ticket_acknowledge", "acknowledged")
    direct("ticket_resume", "resumed")
    direct("ticket_reopen", "reopened")

    def with_modal(action_id: str, kind: str, render: Callable[[Ticket], dict[str, Any]]) -> None:
        """A button that opens the action's form, once the ticket's state allows the action (not after typing)."""

        @responder_button(action_id, kind)
        async def run(body, action, client: AsyncWebClient) -> None:
            ticket = await services.get_ticket(_button_value(action))
            check_allowed(ACTIONS[kind], ticket.key, ticket.state)
            await client.views_open(trigger_id=body["trigger_id"], view=render(ticket))

    def render_update(ticket: Ticket) -> dict[str, Any]:
        # the interval its update clock counts by (its frozen terms), not the plan as edited since
        interval = targets_in_force(services.policies.plan(ticket.plan_id), ticket, services.clock.now()).update_interval
        return views.update_modal(ticket.key, int(interval.total_seconds() // 60) if interval else None)

    def render_reclassify(ticket: Ticket) -> dict[str, Any]:
        return views.reclassify_modal(ticket.key, services.policies.plan(ticket.plan_id), ticket.severity, ticket.priority)

    with_modal("ticket_assign", "assigned", lambda ticket: views.assign_modal(ticket.key, ticket.assignee_id))
    with_modal("ticket_update", "updated", render_update)
    with_modal("ticket_reclassify", "reclassified", render_reclassify)
    with_modal("ticket_resolve", "resolved", lambda ticket: views.resolve_modal(ticket.key))
    with_modal("ticket_pause", "paused", lambda ticket: views.pause_modal(ticket.key))

    def modal_submit(callback_id: str, kind: str, fields_of, error_block: str) -> None:
        refusal = f"Only responders can {ACTIONS[kind].permission}."

        @app.view(callback_id, middleware=[errors_in(error_block), require(Role.RESPONDER, refusal), once()])
        async def handler(ack, body, view, client: AsyncWebClient) -> None:
            user = body["user"]["id"]
            key = _ticket_of(view)
            result = await record_action(services, key, kind, user, posts=owed_posts(user), **fields_of(view["state"]["values"]))
            await ack()
            note = await publish(client, services, delivery, result)
            if note:
                await tell(client, None, user, note)

    def update_fields(state: dict) -> dict:
        minutes = _state_value(state, "next")
        if minutes and minutes not in [str(m) for m in UPDATE_INTERVAL_CHOICES]:
            raise InvalidInput("Choose one of the listed times for the next update")  # a forged option
        return {
            "data": {"text": (_state_value(state, "text") or "").strip()},
            "next_update_at": services.clock.now() + timedelta(minutes=int(minutes)) if minutes else None,
        }

    def reclassify_fields(state: dict) -> dict:
        return {
            "severity": _state_value(state, "severity"),
            "priority": _state_value(state, "priority"),
            "reason": (_state_value(state, "reason") or "").strip(),
        }

    def assign_fields(state: dict) -> dict:
        action = next(iter(state.get("assignee", {}).values()), None) or {}
        return {"data": {"assignee": action.get("selected_user")}}

    def reason_in(block_id: str):
        return lambda state: {"reason": (_state_value(state, block_id) or "").strip()}

    modal_submit("ticket_assign_modal", "assigned", assign_fields, "assignee")
    modal_submit("ticket_update_modal", "updated", update_fields, "text")
    modal_submit("ticket_reclassify_modal", "reclassified", reclassify_fields, "reason")
    modal_submit("ticket_resolve_modal", "resolved", reason_in("note"), "note")
    modal_submit("ticket_pause_modal", "paused", reason_in("reason"), "reason")
