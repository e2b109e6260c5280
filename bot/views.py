"""Block Kit, rendered from small functions. User text is always escaped for mrkdwn."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rules.policy import Plan, Severity
from rules.sla import SlaStatus

STEP1 = "incident_step1"
STEP2 = "incident_step2"
ANSWER_OPTIONS = {"yes": "Yes", "no": "No", "unsure": "Not sure"}
SUMMARY_MAX = 150
DESCRIPTION_MAX = 3000

Block = dict[str, Any]


def escape(text: str | None) -> str:
    """Slack mrkdwn control characters: `<!channel>` or `<@U1>` in user text must not ping anyone."""
    return (text or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


def step1_view(plan: Plan, metadata: dict[str, Any], draft: dict[str, Any] | None = None) -> dict[str, Any]:
    """What happened, and the plan's plain questions that suggest a severity."""
    draft = draft or {}
    answers = draft.get("answers", {})
    blocks: list[Block] = [
        _input("summary", "Summary", _text_input(draft.get("summary"), False, SUMMARY_MAX, "One line: what is broken?")),
        _input(
            "description",
            "Description",
            _text_input(draft.get("description"), True, DESCRIPTION_MAX, "What happened, since when, who is affected"),
            optional=True,
        ),
        _input("service", "Affected service", _text_input(draft.get("service"), False, 200, "e.g. checkout API"), optional=True),
    ]
    questions = plan.policy.file.classification.questions
    if questions:
        blocks.append({"type": "header", "text": _plain("A few questions to classify it")})
    for q in questions:
        element: dict[str, Any] = {
            "type": "radio_buttons",
            "action_id": "answer",
            "options": [_option(v, t) for v, t in ANSWER_OPTIONS.items()],
        }
        previous = answers.get(q.id)
        if previous is not None:
            key = "yes" if previous else "no"
            element["initial_option"] = _option(key, ANSWER_OPTIONS[key])
        blocks.append(_input(f"q:{q.id}", q.text, element, hint=q.help))
    return {
        "type": "modal",
        "callback_id": STEP1,
        "title": _plain("Report an incident"),
        "submit": _plain("Next"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def severity_text(sev: Severity) -> str:
    text = f"*{escape(sev.name)}*\n{escape(sev.definition)}"
    if sev.examples:
        text += "\n_Example: " + escape(" / ".join(sev.examples)) + "_"
    return text


def step2_view(plan: Plan, metadata: dict[str, Any], suggested: Severity, chosen: str | None = None) -> dict[str, Any]:
    """The suggested severity with its definition; confirm or override (with a reason); priority."""
    severities = plan.severities
    initial = plan.severity(chosen) if chosen else suggested
    targets = plan.targets_for(suggested.id)
    blocks: list[Block] = [
        {"type": "section", "block_id": "suggestion", "text": {"type": "mrkdwn", "text": "Suggested severity: " + severity_text(suggested)}},
    ]
    if targets.applied_severity and targets.applied_severity != suggested.id:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{escape(plan.spec.name)} publishes no target for this severity: "
                        f"the targets of {escape(plan.severity(targets.applied_severity).name)} apply.",
                    }
                ],
            }
        )
    blocks += [
        _input(
            "severity",
            "Severity",
            {
                "type": "static_select",
                "action_id": "value",
                "options": [_option(s.id, s.name, s.definition) for s in severities],
                "initial_option": _option(initial.id, initial.name, initial.definition),
            },
            hint="Keep the suggestion, or choose another and say why.",
        ),
        _input(
            "reason",
            "Reason for a different severity",
            _text_input(None, True, 500, "Needed only if you change the suggested severity"),
            optional=True,
        ),
        _input(
            "priority",
            "Business priority",
            {
                "type": "static_select",
                "action_id": "value",
                "options": [_option(p.id, p.name, p.definition) for p in plan.priorities],
            },
        ),
    ]
    return {
        "type": "modal",
        "callback_id": STEP2,
        "title": _plain("Classify the incident"),
        "submit": _plain("Open ticket"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def done_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": _plain("Incident reported"),
        "close": _plain("Close"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def deadline_lines(status: SlaStatus, plan: Plan) -> list[str]:
    lines = []
    fr = status.clocks["first_response"]
    res = status.clocks["resolution"]
    targets = plan.targets_for(status.severity)
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


RESPONDER_ACTIONS = [
    ("ticket_acknowledge", "Acknowledge", "primary"),
    ("ticket_update", "Post update", None),
    ("ticket_assign", "Assign", None),
    ("ticket_reclassify", "Reclassify", None),
    ("ticket_pause", "Pause", None),
    ("ticket_resolve", "Resolve", "danger"),
]


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
    blocks.append({"type": "section", "block_id": "deadlines", "text": {"type": "mrkdwn", "text": "\n".join(deadline_lines(status, plan))}})
    if ticket.plan_note:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": ":warning: Outside the plan: " + escape(ticket.plan_note)}]})
    state_line = {"open": "Open", "paused": ":double_vertical_bar: Paused, waiting on the customer", "resolved": ":white_check_mark: Resolved"}
    blocks.append({"type": "context", "block_id": "state", "elements": [{"type": "mrkdwn", "text": f"*State:* {state_line.get(ticket.state, ticket.state)}"}]})
    blocks.append(
        {
            "type": "actions",
            "block_id": "responder_actions",
            "elements": [
                {"type": "button", "action_id": aid, "text": _plain(label), "value": ticket.key, **({"style": style} if style else {})}
                for aid, label, style in actions_for_state(ticket.state)
            ],
        }
    )
    return blocks


def actions_for_state(state: str) -> list[tuple[str, str, str | None]]:
    if state == "resolved":
        return [("ticket_reopen", "Reopen", None)]
    if state == "paused":
        return [(a, label, st) if a != "ticket_pause" else ("ticket_resume", "Resume", None) for a, label, st in RESPONDER_ACTIONS]
    return RESPONDER_ACTIONS


def announcement_text(ticket: Any, plan: Plan) -> str:
    return f"{ticket.key} ({plan.severity(ticket.severity).name}): {escape(ticket.summary)}"


def reporter_confirmation(ticket: Any, plan: Plan, status: SlaStatus, where: str | None, quota_text: str | None) -> str:
    announced = (
        f"Announced in <#{where}>."
        if where
        else ":warning: I could not post it in this channel, so responders have not seen it here: "
        "invite me with `/invite @triage-bot`, or report it in a channel I am in. The ticket is saved and its clocks run."
    )
    lines = [f"Your report is saved as *{ticket.key}*: {escape(ticket.summary)}", announced]
    lines += deadline_lines(status, plan)
    if ticket.plan_note:
        lines.append(
            ":warning: " + escape(ticket.plan_note) + ". The support team has it and will handle it, "
            "but the plan's response times may not apply; they will confirm with you."
        )
    elif quota_text:
        lines.append(escape(quota_text[:1].upper() + quota_text[1:]) + ".")
    return "\n".join(lines)


def mention_prompt_blocks(summary: str) -> list[Block]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Want to report an incident? I'll ask a few questions."}},
        {
            "type": "actions",
            "elements": [
                {"type": "button", "action_id": "open_report", "text": _plain("Report incident"), "style": "primary", "value": summary[:1900]}
            ],
        },
    ]


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
                "next", "Next update", element, optional=True,
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
    pri_el: dict[str, Any] = {"type": "static_select", "action_id": "value", "options": [_option(p.id, p.name, p.definition) for p in plan.priorities]}
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
