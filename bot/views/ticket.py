"""Block Kit for one ticket: its announcement with the responders' buttons, their modals,
the thread message after an action, and reminder and escalation notices."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.views.blocks import Block, _input, _option, _plain, _text_input, escape, fit_text, slack_date
from rules.actions import ACTIONS
from rules.durations import format_timedelta
from rules.oncall import OnCallSetting
from rules.policy import Plan
from rules.sla import CLOCK_LABELS, SlaStatus

if TYPE_CHECKING:
    from bot.services.tickets import ActionResult
    from storage.models import SlaTimer, Ticket


def deadline_lines(status: SlaStatus) -> list[str]:
    """By the ticket's own terms, not the plan as it is now: a policy edit applies to new tickets only."""
    lines = []
    fr = status.clocks["first_response"]
    res = status.clocks["resolution"]
    targets = status.targets
    if targets.placeholder:
        return ["Deadlines: _not set: this plan's targets are placeholders the operator must set_"]
    if fr.stopped_at is not None:
        verdict = "met" if fr.status.value == "met" else "missed"
        lines.append(f"First response {slack_date(fr.stopped_at)} ({verdict})" if fr.due else f"First response {slack_date(fr.stopped_at)}")
    else:
        lines.append(f"First response by {slack_date(fr.due)}" if fr.due else "First response: best effort")
    upd = status.clocks["update"]
    if upd.due is not None and upd.active:
        lines.append(f"Next update by {slack_date(upd.due)}")
    elif upd.due is not None and upd.status.value == "courtesy":
        lines.append(f"Update promised by {slack_date(upd.due)} (a courtesy: this severity owes no updates)")
    elif targets.update_interval:
        minutes = int(targets.update_interval.total_seconds() // 60)
        lines.append(f"Updates every {minutes} min after the first response")
    if res.status.value == "paused":
        lines.append("Resolution clock paused")
    elif res.stopped_at is not None and res.due:
        lines.append(f"Resolved {slack_date(res.stopped_at)} ({'met' if res.status.value == 'met' else 'missed'})")
    elif res.due:
        lines.append(f"Resolution by {slack_date(res.due)}")
    elif targets.resolution_best_effort:
        lines.append("Resolution: best effort")
    return lines


# Every responder button, declared once: action_id -> (label, style). handlers/responders.py listens to them.
BUTTONS: dict[str, tuple[str, str | None]] = {
    "ticket_acknowledge": ("Acknowledge", "primary"),
    "ticket_update": ("Post update", None),
    "ticket_assign": ("Assign", None),
    "ticket_reclassify": ("Reclassify", None),
    "ticket_pause": ("Pause", None),
    "ticket_resume": ("Resume", None),
    "ticket_resolve": ("Resolve", "danger"),
    "ticket_reopen": ("Reopen", None),
    "escalation_ack": ("I'm on it (stop pings)", None),
}


def button(action_id: str, value: str) -> dict[str, Any]:
    label, style = BUTTONS[action_id]
    return {"type": "button", "action_id": action_id, "text": _plain(label), "value": value, **({"style": style} if style else {})}


def actions_for_state(state: str) -> list[str]:
    """The announcement's buttons in each ticket state."""
    if state == "resolved":
        return ["ticket_reopen"]
    pause = "ticket_resume" if state == "paused" else "ticket_pause"
    return ["ticket_acknowledge", "ticket_update", "ticket_assign", "ticket_reclassify", pause, "ticket_resolve"]


def announcement_blocks(ticket: Any, plan: Plan, status: SlaStatus, customer_name: str | None) -> list[Block]:
    sev = plan.severity(ticket.severity)
    priority = plan.priority(ticket.priority).name if ticket.priority else "-"
    fields = [
        {"type": "mrkdwn", "text": f"*Severity*\n{escape(sev.name)}"},
        {"type": "mrkdwn", "text": f"*Priority*\n{escape(priority)}"},
        {"type": "mrkdwn", "text": f"*Reporter*\n<@{ticket.reporter_id}>"},
        {"type": "mrkdwn", "text": f"*Plan*\n{escape(plan.spec.name)}" + (f" ({escape(customer_name)})" if customer_name else "")},
    ]
    if ticket.service:
        fields.append({"type": "mrkdwn", "text": f"*Service*\n{escape(ticket.service)}"})
    fields.append({"type": "mrkdwn", "text": "*Owner*\n" + (f"<@{ticket.assignee_id}>" if ticket.assignee_id else "unassigned")})
    blocks: list[Block] = [
        {"type": "header", "text": _plain(f"{ticket.key}: {ticket.summary}")},
        {"type": "section", "fields": fields},
    ]
    if ticket.description:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": escape(ticket.description)[:2900]}})
    blocks.append({"type": "section", "block_id": "deadlines", "text": {"type": "mrkdwn", "text": "\n".join(deadline_lines(status))}})
    if ticket.plan_note:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": ":warning: Outside the plan: " + escape(ticket.plan_note)}]}
        )
    state_line = {
        "open": "Open",
        "paused": ":double_vertical_bar: Paused, waiting on the customer",
        "resolved": ":white_check_mark: Resolved",
    }
    blocks.append(
        {
            "type": "context",
            "block_id": "state",
            "elements": [{"type": "mrkdwn", "text": f"*State:* {state_line.get(ticket.state, ticket.state)}"}],
        }
    )
    blocks.append(
        {
            "type": "actions",
            "block_id": "responder_actions",
            "elements": [button(action_id, ticket.key) for action_id in actions_for_state(ticket.state)],
        }
    )
    return blocks


def announcement_text(ticket: Any, plan: Plan) -> str:
    return f"{ticket.key} ({plan.severity(ticket.severity).name}): {escape(ticket.summary)}"


UPDATE_INTERVAL_CHOICES = [15, 30, 60, 120, 240, 480, 1440]


def _ticket_modal(callback_id: str, verb: str, ticket_key: str, blocks: list[Block]) -> dict[str, Any]:
    """A responder's form about one ticket; the ticket travels in private_metadata."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(f"{verb} {ticket_key}"),
        "submit": _plain(verb),
        "private_metadata": json.dumps({"ticket": ticket_key}),
        "blocks": blocks,
    }


def update_modal(ticket_key: str, default_minutes: int | None) -> dict[str, Any]:
    options = [_option(str(m), f"in {m // 60} h" if m >= 60 and m % 60 == 0 else f"in {m} min") for m in UPDATE_INTERVAL_CHOICES]
    element: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": options}
    if default_minutes in UPDATE_INTERVAL_CHOICES:
        element["initial_option"] = options[UPDATE_INTERVAL_CHOICES.index(default_minutes)]
    return _ticket_modal(
        "ticket_update_modal",
        "Update",
        ticket_key,
        [
            _input("text", "Update", _text_input(None, True, 3000, "What we know, what we are doing")),
            _input(
                "next",
                "Next update",
                element,
                optional=True,
                hint="Leave empty to follow the plan's interval" if default_minutes else "Optional: when customers hear from us next",
            ),
        ],
    )


def reclassify_modal(ticket_key: str, plan: Plan, severity: str, priority: str | None) -> dict[str, Any]:
    sev = plan.severity(severity)
    sev_el = {
        "type": "static_select",
        "action_id": "value",
        "options": [_option(s.id, s.name, s.definition) for s in plan.severities],
        "initial_option": _option(sev.id, sev.name, sev.definition),
    }
    pri_el: dict[str, Any] = {
        "type": "static_select",
        "action_id": "value",
        "options": [_option(p.id, p.name, p.definition) for p in plan.priorities],
    }
    if priority:
        p = plan.priority(priority)
        pri_el["initial_option"] = _option(p.id, p.name, p.definition)
    return _ticket_modal(
        "ticket_reclassify_modal",
        "Reclassify",
        ticket_key,
        [
            _input("severity", "Severity", sev_el, hint="Deadlines are recomputed from when the ticket was opened"),
            _input("priority", "Business priority", pri_el),
            _input("reason", "Reason", _text_input(None, True, 500, "Why the change (kept in the audit log)")),
        ],
    )


def resolve_modal(ticket_key: str) -> dict[str, Any]:
    note = _input("note", "Resolution note", _text_input(None, True, 3000, "What fixed it"))
    return _ticket_modal("ticket_resolve_modal", "Resolve", ticket_key, [note])


def pause_modal(ticket_key: str) -> dict[str, Any]:
    reason = _input("reason", "What are we waiting for from the customer?", _text_input(None, True, 500, "e.g. logs from the failing node"))
    return _ticket_modal("ticket_pause_modal", "Pause", ticket_key, [reason])


def assign_modal(ticket_key: str, current: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "users_select", "action_id": "value"}
    if current:
        element["initial_user"] = current
    return _ticket_modal("ticket_assign_modal", "Assign", ticket_key, [_input("assignee", "Owner", element)])


def action_text(result: ActionResult, user_id: str) -> str:
    e, ticket, plan = result.event, result.ticket, result.plan
    text = f"<@{user_id}> {ACTIONS[e.kind].thread_verb} {ticket.key}"
    if e.kind == "reclassified":
        text += f": now {escape(plan.severity(ticket.severity).name)}"
        if ticket.priority:
            text += f", {escape(plan.priority(ticket.priority).name)}"
    if e.kind == "assigned":
        text += f" to <@{ticket.assignee_id}>"
    if e.kind == "updated":
        text += ":\n" + escape(e.data.get("text", ""))
        if e.next_update_at:
            text += f"\nNext update by {slack_date(e.next_update_at)}"
    elif e.reason:
        text += f"\n_{'Reason' if e.kind != 'resolved' else 'Resolution'}: {escape(e.reason)}_"
    return text


CUSTOMER_TEXT = {
    "acknowledged": "We are on it: {key} ({summary}) is being worked on.",
    "updated": "Update on {key} ({summary}):\n{text}",
    "paused": "{key} ({summary}): we need something from you to continue:\n{reason}",
    "resolved": "{key} ({summary}) is resolved:\n{reason}",
    "reopened": "{key} ({summary}) is reopened: we are working on it again.",
}


def customer_text(result: ActionResult) -> str:
    """The short message the customer reads in their channel's thread when an action concerns them."""
    e, ticket = result.event, result.ticket
    text = CUSTOMER_TEXT[e.kind].format(
        key=ticket.key, summary=escape(ticket.summary), text=escape((e.data or {}).get("text", "")), reason=escape(e.reason or "")
    )
    if e.kind == "updated" and e.next_update_at:
        text += f"\nNext update by {slack_date(e.next_update_at)}"
    return text


def action_posts(result: ActionResult, user_id: str) -> list[tuple[str, str | None, str]]:
    """What an action owes Slack, as (kind, channel, text): the thread post, and for an action the customer
    sees, when the ticket is worked in a triage channel, a short message in the customer's channel thread."""
    ticket = result.ticket
    more = f"cut to fit one Slack message; the full text is kept with the ticket: `/sla ticket {ticket.key}`"
    text = fit_text(action_text(result, user_id), more)
    posts: list[tuple[str, str | None, str]] = [("thread", None, text)]
    if ACTIONS[result.event.kind].customer_visible and ticket.channel_id != ticket.announce_channel_id:
        posts.append(("customer", ticket.channel_id, fit_text(customer_text(result), "cut to fit one Slack message")))
    return posts


def delivery_note(key: str, delivered: list[Any]) -> str | None:
    """One line for the responder when a post an action owes did not go out at once (None when all did)."""
    where = {"thread": "the ticket's thread", "customer": "the customer's channel", "announcement": "the channel"}
    waiting = [where.get(d.kind, "Slack") for d in delivered if d.state == "pending"]
    failed = [(where.get(d.kind, "Slack"), d.error) for d in delivered if d.state == "failed"]
    lines = []
    if waiting:
        lines.append(
            f":hourglass: {key}: saved, but Slack did not take the post in {' and '.join(waiting)} yet; "
            "it is posted as soon as Slack answers (do not repeat the action)."
        )
    for place, error in failed:
        lines.append(f":warning: {key}: saved, but Slack refused the post in {place} ({escape(error or 'error')}).")
    return "\n".join(lines) or None


def _mention(row: SlaTimer, ticket: Ticket, plan: Any, oncall: dict[str, OnCallSetting], now: datetime) -> str:
    role = row.notify if row.kind == "escalation" else None
    if role is None:  # reminders go to the assignee, else to level 1
        if ticket.assignee_id:
            return f"<@{ticket.assignee_id}>"
        ladder = plan.notifications.escalation
        role = ladder[0].notify if ladder else None
    setting = oncall.get(role or "")
    if setting is None:
        return f"(no one is on call as {role}: `/sla oncall set {role} @someone`)" if role else ""
    return setting.mention(plan.timezone, now)


def render_notification(
    ticket: Ticket,
    plan: Any,
    status: SlaStatus,
    row: SlaTimer,
    now: datetime,
    oncall: dict[str, OnCallSetting],
    late: bool,
    folded: int,
) -> tuple[str, list[dict[str, Any]]]:
    clock = status.clocks[row.clock]
    label = CLOCK_LABELS[row.clock]
    who = _mention(row, ticket, plan, oncall, now)
    if row.kind == "reminder":
        left = clock.remaining(now)
        text = (
            f":alarm_clock: {ticket.key}: {label} due {slack_date(row.deadline)}"
            f" ({format_timedelta(left) if left is not None else '-'} of support time left, {row.label} of the target used). {who}"
        )
    else:
        text = (
            f":rotating_light: {ticket.key}: {label} deadline missed {slack_date(row.deadline)},"
            f" {format_timedelta(now - row.deadline)} late. Escalation {row.label}: {who}"
        )
    if late:
        text += f"\n_Sent late ({format_timedelta(now - row.due_at)} after it was due)"
        text += f"; {folded} earlier notice(s) folded into this one._" if folded else "._"
    text += f"\n{escape(ticket.summary)}"
    buttons = [button("ticket_acknowledge", ticket.key)] if row.clock == "first_response" else []
    buttons.append(button("ticket_update", ticket.key))
    if row.kind == "escalation":
        buttons.append(button("escalation_ack", f"{ticket.key}|{row.clock}"))
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "timer_actions", "elements": buttons},
    ]
    return text.split("\n")[0], blocks
