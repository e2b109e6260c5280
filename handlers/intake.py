"""Intake: `/incident`, the message shortcut and @mentions open a two-step modal that opens a ticket.

Handlers stay thin: parse the payload, call the services, render views. Each
acks within Slack's 3 s; posting to channels happens after the ack.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import views
from bot.delivery import Delivery
from bot.services import OpenedTicket, ReportDraft, Services
from handlers.middleware import errors_in, tell
from rules.errors import InvalidInput
from storage.db import database_unavailable

log = logging.getLogger(__name__)

SHORTCUT_CALLBACK = "report_incident"
SAVE_FAILED = "Could not save the ticket just now. Your text is kept: press Open ticket again."
NO_CHANNEL = "Report from the channel it concerns: `/incident` there, or the message shortcut on a message in it."
DRAFT_GONE = "This form is no longer known to me (it was opened more than a week ago): close it and report again."


class Step1(BaseModel):
    summary: str = Field(min_length=1, max_length=views.SUMMARY_MAX)
    description: str = Field(default="", max_length=views.DESCRIPTION_MAX)
    service: str | None = Field(default=None, max_length=200)
    answers: dict[str, bool] = Field(default_factory=dict)

    @field_validator("summary")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("Write a one-line summary")
        return v.strip()


def _value(state: dict[str, Any], block_id: str) -> Any:
    """The value of one input in view.state.values, whatever its element type."""
    action = next(iter(state.get(block_id, {}).values()), None)
    if not action:
        return None
    if "selected_option" in action:
        return (action["selected_option"] or {}).get("value")
    return action.get("value")


def parse_step1(view: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Raw draft and field errors (block_id -> message)."""
    state = view["state"]["values"]
    answers = {}
    for block_id in state:
        if block_id.startswith("q:"):
            answer = _value(state, block_id)
            if answer in ("yes", "no"):
                answers[block_id[2:]] = answer == "yes"
    raw = {
        "summary": _value(state, "summary") or "",
        "description": _value(state, "description") or "",
        "service": (_value(state, "service") or "").strip() or None,
        "answers": answers,
    }
    try:
        return Step1.model_validate(raw).model_dump(), {}
    except ValidationError as e:
        errors = {}
        for err in e.errors():
            field = str(err["loc"][0])
            errors[field if field != "answers" else "summary"] = err["msg"].removeprefix("Value error, ")
        return raw, errors


async def _open_modal(
    client: AsyncWebClient,
    services: Services,
    trigger_id: str,
    channel_id: str,
    user_id: str,
    draft: dict[str, Any],
    source_message_ts: str | None = None,
) -> None:
    """Open step 1, then keep the draft server-side under the new view's id (never in `private_metadata`)."""
    plan = await services.modal_plan(channel_id)  # from memory: no database work before views.open
    resp = await client.views_open(trigger_id=trigger_id, view=views.step1_view(plan, draft))
    view_id = resp["view"]["id"]
    try:
        await services.save_draft(view_id, user_id, channel_id, draft, services.clock.now(), source_message_ts=source_message_ts)
    except Exception as e:
        # The modal is open, but step 1 could never be submitted: turn it into the notice at once, text shown.
        if database_unavailable(e):
            await client.views_update(view_id=view_id, view=views.cannot_keep_report_view(draft))
        raise  # the one error handler logs it (and the person is told there too)


def _channel_of(body: dict[str, Any]) -> str:
    """The channel a report is for: the shortcut's message or the button's; a request from nowhere is refused."""
    channel_id = (body.get("channel") or {}).get("id")
    if not channel_id:
        raise InvalidInput(NO_CHANNEL)
    return channel_id


async def confirm(client: AsyncWebClient, delivery: Delivery, opened: OpenedTicket, user_id: str) -> None:
    """Announce a new ticket (its outbox row) and tell the reporter truthfully where it stands."""
    ticket = opened.ticket
    delivered = await delivery.deliver(opened.post_ids)
    state = delivered[0] if delivered else None
    where = state.channel if state is not None and state.state == "sent" else None
    waiting = state is not None and state.state == "pending"
    quota_text = opened.quota.describe() if opened.quota.limit else None
    text = views.reporter_confirmation(ticket, opened.plan, opened.status, where, quota_text, waiting=waiting)
    await tell(client, ticket.channel_id, user_id, text)


def register(app: AsyncApp, services: Services, delivery: Delivery) -> None:
    @app.command("/incident")
    async def incident_command(ack, body, client: AsyncWebClient) -> None:
        await ack()
        await _open_modal(client, services, body["trigger_id"], body["channel_id"], body["user_id"], views.prefill(body.get("text", "")))

    @app.shortcut(SHORTCUT_CALLBACK)
    async def report_from_message(ack, body, client: AsyncWebClient) -> None:
        await ack()
        message = body.get("message", {})
        channel_id = _channel_of(body)
        draft = views.prefill(message.get("text", ""))
        await _open_modal(client, services, body["trigger_id"], channel_id, body["user"]["id"], draft, message.get("ts"))

    @app.event("app_mention")
    async def mentioned(body, event, client: AsyncWebClient) -> None:
        # Events carry no trigger_id: offer a button, whose click can open the modal.
        if body.get("event_id") and not await services.first_time_event(body["event_id"]):
            return
        text = " ".join(w for w in event.get("text", "").split() if not (w.startswith("<@") and w.endswith(">")))
        await client.chat_postEphemeral(
            channel=event["channel"], user=event["user"], text="Report an incident?", blocks=views.mention_prompt_blocks(text)
        )

    @app.action("open_report")
    async def open_report(ack, body, action, client: AsyncWebClient) -> None:
        await ack()
        channel_id = _channel_of(body)
        await _open_modal(client, services, body["trigger_id"], channel_id, body["user"]["id"], views.prefill(action.get("value", "")))

    @app.view(views.STEP1)
    async def step1_submitted(ack, body, view) -> None:
        stored = await services.get_draft(view["id"], body["user"]["id"])
        draft, errors = parse_step1(view)
        if stored is None:
            await ack(response_action="errors", errors={"summary": DRAFT_GONE})
            return
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        _customer, plan = await services.plan_for_channel(stored.channel_id)
        await services.update_draft(view["id"], draft, services.clock.now())
        suggestion = services.suggest(plan, draft["answers"])
        await ack(response_action="update", view=views.step2_view(plan, suggestion.severity))

    # The reporter's text stays in the modal whatever fails: they are told, nothing is dropped.
    @app.view(views.STEP2, middleware=[errors_in("priority", SAVE_FAILED)])
    async def step2_submitted(ack, body, view, client: AsyncWebClient) -> None:
        user_id = body["user"]["id"]
        stored = await services.get_draft(view["id"], user_id)
        if stored is None:
            await ack(response_action="errors", errors={"priority": DRAFT_GONE})
            return
        state = view["state"]["values"]
        severity = _value(state, "severity")
        reason = (_value(state, "reason") or "").strip()
        priority = _value(state, "priority")
        # Channel, plan and suggestion come from the stored draft and the channel's customer, never from the view.
        _customer, plan = await services.plan_for_channel(stored.channel_id)
        answers = stored.data.get("answers", {})
        suggested = services.suggest(plan, answers).severity.id
        if severity not in plan.severity_ids:
            await ack(response_action="errors", errors={"severity": "Choose one of the listed severities"})
            return
        if priority not in [p.id for p in plan.priorities]:
            await ack(response_action="errors", errors={"priority": "Choose one of the listed priorities"})
            return
        if severity != suggested and not reason:
            await ack(response_action="errors", errors={"reason": "Say why you chose a different severity than suggested"})
            return
        draft = ReportDraft(
            channel_id=stored.channel_id,
            reporter_id=user_id,
            summary=stored.data["summary"],
            description=stored.data.get("description", ""),
            service=stored.data.get("service"),
            answers=answers,
            suggested_severity=suggested,
            severity=severity,
            override_reason=reason or None,
            priority=priority,
            idempotency_key=f"view:{view['id']}",
            source_message_ts=stored.source_message_ts,
        )
        opened = await services.open_ticket(draft)
        ticket = opened.ticket
        await ack(response_action="update", view=views.done_view(f"Saved as *{ticket.key}*: {views.escape(ticket.summary)}"))
        if not opened.created:
            return  # the same submission again: the first one announced it
        await confirm(client, delivery, opened, user_id)
