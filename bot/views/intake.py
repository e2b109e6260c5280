"""Block Kit for reporting an incident: the two-step modal, the mention prompt, the reporter's confirmation."""

from __future__ import annotations

from typing import Any

from bot.views.blocks import Block, _input, _option, _plain, _text_input, escape
from bot.views.ticket import deadline_lines
from rules.policy import Plan
from rules.policy_file import Severity
from rules.sla import SlaStatus

STEP1 = "incident_step1"
STEP2 = "incident_step2"
ANSWER_OPTIONS = {"yes": "Yes", "no": "No", "unsure": "Not sure"}
SUMMARY_MAX = 150
DESCRIPTION_MAX = 3000


def step1_view(plan: Plan, draft: dict[str, Any] | None = None) -> dict[str, Any]:
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
        "blocks": blocks,
    }


def severity_text(sev: Severity) -> str:
    text = f"*{escape(sev.name)}*\n{escape(sev.definition)}"
    if sev.examples:
        text += "\n_Example: " + escape(" / ".join(sev.examples)) + "_"
    return text


def step2_view(plan: Plan, suggested: Severity, chosen: str | None = None) -> dict[str, Any]:
    """The suggested severity with its definition; confirm or override (with a reason); priority."""
    severities = plan.severities
    initial = plan.severity(chosen) if chosen else suggested
    targets = plan.targets_for(suggested.id)
    blocks: list[Block] = [
        {
            "type": "section",
            "block_id": "suggestion",
            "text": {"type": "mrkdwn", "text": "Suggested severity: " + severity_text(suggested)},
        },
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
        "blocks": blocks,
    }


def done_view(text: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "title": _plain("Incident reported"),
        "close": _plain("Close"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def cannot_keep_report_view(draft: dict[str, Any]) -> dict[str, Any]:
    """Step 1 opened, but its draft could not be kept (the database is not answering): say so at once, before
    anything is typed into a form that could not be submitted, and show the text it was opened with."""
    blocks: list[Block] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    ":hourglass_flowing_sand: I cannot take reports just now: the database is not answering, so nothing "
                    "was saved. Report again in a minute."
                ),
            },
        }
    ]
    for label in ("summary", "description"):
        if draft.get(label):
            blocks.append({"type": "context", "elements": [_plain(f"Your {label}:")]})
            blocks.append({"type": "section", "text": _plain(str(draft[label])[:3000])})  # plain: nothing in it is a mention
    return {"type": "modal", "title": _plain("Try again in a minute"), "close": _plain("Close"), "blocks": blocks}


def reporter_confirmation(
    ticket: Any, plan: Plan, status: SlaStatus, where: str | None, quota_text: str | None, waiting: bool = False
) -> str:
    """`where` the ticket was announced; `waiting`: Slack did not take the announcement yet (it is retried)."""
    if where:
        announced = f"Announced in <#{where}>."
    elif waiting:
        announced = (
            ":hourglass: Slack did not answer when I announced it: it is announced in the channel as soon as Slack "
            "answers (I keep trying; nothing to do). The ticket is saved and its clocks run."
        )
    else:
        announced = (
            ":warning: I could not post it in this channel, so responders have not seen it here: "
            "invite me with `/invite @triage-bot`, or report it in a channel I am in. The ticket is saved and its clocks run."
        )
    lines = [f"Your report is saved as *{ticket.key}*: {escape(ticket.summary)}", announced]
    lines += deadline_lines(status)
    if ticket.plan_note:
        lines.append(
            ":warning: " + escape(ticket.plan_note) + ". The support team has it and will handle it, "
            "but the plan's response times may not apply; they will confirm with you."
        )
    elif quota_text:
        lines.append(escape(quota_text[:1].upper() + quota_text[1:]) + ".")
    return "\n".join(lines)


def prefill(text: str) -> dict[str, str]:
    """A draft from free text (a command's text, a message): its first line as the summary, all of it kept."""
    text = text.strip()
    first_line = text.splitlines()[0].strip() if text else ""
    draft = {"summary": first_line[:SUMMARY_MAX]}
    if text != draft["summary"]:
        draft["description"] = text[:DESCRIPTION_MAX]
    return draft


def mention_prompt_blocks(summary: str) -> list[Block]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Want to report an incident? I'll ask a few questions."}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "open_report",
                    "text": _plain("Report incident"),
                    "style": "primary",
                    "value": summary[:1900],
                }
            ],
        },
    ]
