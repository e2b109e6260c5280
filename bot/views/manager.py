"""Block Kit for the managers' views: `/sla status`, `/sla ticket` and `/sla report`.

Small functions from the pure figures (`rules.board`, `rules.compliance`) to blocks.
All user text is escaped for mrkdwn; instants are shown with `slack_date` in each
viewer's time zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Callable, Mapping, Sequence

from bot.views.blocks import (
    Block,
    _cap_blocks,
    _capped,
    _context,
    _header,
    _section,
    channel_ref,
    chunk_sections,
    escape,
    human,
    owner,
    short,
    slack_date,
    user_ref,
)
from rules.board import AT_RISK_FLOOR, AT_RISK_SHARE, BoardRow, ClockWatch, Urgency
from rules.compliance import Breach, DeadlineVerdict, DurationStats, GroupStats, Rate, Report
from rules.errors import UnknownIdError
from rules.policy import Plan
from rules.sla import CLOCK_LABELS

URGENCY_TITLE = {
    Urgency.BREACHED: ":red_circle: Breached",
    Urgency.AT_RISK: ":large_orange_circle: At risk",
    Urgency.ON_TRACK: ":large_green_circle: On track",
    Urgency.NO_DEADLINE: ":white_circle: No deadline running",
}
URGENCY_NAME = {Urgency.BREACHED: "breached", Urgency.AT_RISK: "at risk", Urgency.ON_TRACK: "on track", Urgency.NO_DEADLINE: "no deadline"}
LINES_PER_GROUP = {Urgency.BREACHED: 40, Urgency.AT_RISK: 40, Urgency.ON_TRACK: 20, Urgency.NO_DEADLINE: 15}
CLOCK_TITLE = {"first_response": "First response", "update": "Update", "resolution": "Resolution"}


def left_text(w: ClockWatch) -> str:
    """`late by 12m`, or `25m left` (`3h business time left` on business-hours plans)."""
    if w.late_by is not None:
        return f"late by {human(w.late_by)}"
    return f"{human(w.left, hours_only=w.business_hours)} {'business time ' if w.business_hours else ''}left"


def rate_text(rate: Rate) -> str:
    if rate.percent is None:
        return "n/a"
    return f"*{rate.percent:.0f}%* ({rate.met}/{rate.total})"


def durations_text(d: DurationStats) -> str:
    if d.count == 0:
        return "n/a"
    return f"median {human(d.median)}, p90 {human(d.p90)}"


# -- /sla status -----------------------------------------------------------------------


def board_line(row: BoardRow) -> str:
    t = row.ticket
    line = f"• *{t.key}* {escape(short(t.summary))} · {owner(t)}"
    if row.headline is None:
        why = "paused, waiting on the customer" if t.state == "paused" else "no deadline running (best effort or no target)"
        return f"{line} · {why}"
    w = row.headline
    line += f" · {CLOCK_LABELS[w.clock]} {left_text(w)} (due {slack_date(w.due)})"
    also = [o for o in row.others if o.urgency is Urgency.BREACHED]
    if also:
        line += " · also late: " + ", ".join(f"{CLOCK_LABELS[o.clock]} by {human(o.late_by)}" for o in also)
    return line


STATUS_PAGE = 20  # rows per "next 20" page
STATUS_MORE = "status_more"  # the "next 20" button's action id; its value is "<urgency>:<offset>"


def status_message(
    rows: Sequence[BoardRow], now: datetime, skipped: Sequence[str] = (), counts: Mapping[Urgency, int] | None = None
) -> tuple[str, list[Block]]:
    """The `/sla status` reply: text fallback and blocks.

    `counts`: how many open tickets each urgency has, when `rows` are only the first of each
    (read from stored clock state); a group with more gets a "next 20" button.
    """
    shown = {u: sum(1 for r in rows if r.urgency is u) for u in Urgency}
    counts = {u: max(shown[u], (counts or {}).get(u, 0)) for u in Urgency}
    total = sum(counts.values())
    if not total:
        text = "No open tickets right now: nothing is waiting on a deadline."
        return text, [_section(text, "status_empty")]
    summary = ", ".join(f"{counts[u]} {u.value.replace('_', ' ')}" for u in Urgency if counts[u])
    text = f"SLA status: {total} open ticket{'s' if total != 1 else ''} ({summary})"
    blocks: list[Block] = [
        _header(f"SLA status: {total} open ticket{'s' if total != 1 else ''}"),
        _context(
            f"As of {slack_date(now)}. Breached first, then at risk (under {AT_RISK_SHARE:.0%} of the target "
            f"or {int(AT_RISK_FLOOR.total_seconds() // 60)} min left), then by deadline."
        ),
    ]
    for u in Urgency:
        group = [board_line(r) for r in rows if r.urgency is u]
        if not group and not counts[u]:
            continue
        lines = _capped(group, LINES_PER_GROUP[u], "(see the App Home or narrow down)")
        more = counts[u] - min(len(group), LINES_PER_GROUP[u])
        if more > 0 and len(group) <= LINES_PER_GROUP[u]:
            lines.append(f"…and {more} more")
        blocks += chunk_sections(f"*{URGENCY_TITLE[u]} ({counts[u]})*", lines, block_id=f"status_{u.value}")
        if more > 0:
            blocks.append(next_page_button(u, min(len(group), LINES_PER_GROUP[u])))
    if skipped:
        blocks.append(_context(f":warning: Left out, their plan is no longer loaded: {escape(', '.join(skipped))}"))
    return text, _cap_blocks(blocks)


def next_page_button(urgency: Urgency, offset: int) -> Block:
    return {
        "type": "actions",
        "block_id": f"status_more_{urgency.value}",
        "elements": [
            {
                "type": "button",
                "action_id": STATUS_MORE,
                "text": {"type": "plain_text", "text": f"Next {STATUS_PAGE} {URGENCY_NAME[urgency]}"},
                "value": f"{urgency.value}:{offset}",
            }
        ],
    }


def status_page_message(rows: Sequence[BoardRow], urgency: Urgency, offset: int, total: int, now: datetime) -> tuple[str, list[Block]]:
    """One "next 20" page of a status group: its rows from `offset`, and a button for the next page."""
    title, name = URGENCY_TITLE[urgency], URGENCY_NAME[urgency]
    if not rows:
        text = f"No more tickets {name} (now {total})."
        return text, [_section(text, f"status_{urgency.value}")]
    last = offset + len(rows)
    text = f"SLA status, {name}: {offset + 1}-{last} of {total}"
    blocks = chunk_sections(
        f"*{title} ({offset + 1}-{last} of {total})*", [board_line(r) for r in rows], block_id=f"status_{urgency.value}"
    )
    blocks.append(_context(f"As of {slack_date(now)}."))
    if last < total:
        blocks.append(next_page_button(urgency, last))
    return text, _cap_blocks(blocks)


# -- /sla ticket -----------------------------------------------------------------------


def verdict_line(v: DeadlineVerdict, business_hours: bool = False) -> str:
    name = CLOCK_TITLE[v.clock]
    if v.clock == "update":  # past periods are numbered; the current one is "the next update"
        name = f"Update {v.period}" if v.outcome in ("met", "missed") else "Next update"
    # an update period ends at the next update, or at a pause or the resolve
    stop_word = {"first_response": "responded", "update": "ended", "resolution": "resolved"}[v.clock]
    if v.outcome == "met":
        return f"• {name}: :white_check_mark: met, {human(v.margin)} early ({stop_word} {slack_date(v.at)}, due {slack_date(v.due)})"
    if v.outcome == "missed":
        return f"• {name}: :x: missed by {human(v.margin)} ({stop_word} {slack_date(v.at)}, due {slack_date(v.due)})"
    if v.outcome == "breached":
        return f"• {name}: :red_circle: breached, {human(v.margin)} late and still running (due {slack_date(v.due)})"
    if v.outcome == "running":
        bt = "business time " if business_hours else ""
        return f"• {name}: due {slack_date(v.due)}, {human(v.margin, hours_only=business_hours)} {bt}left"
    if v.outcome == "paused":
        left = f", {human(v.margin, hours_only=business_hours)} left when paused" if v.margin is not None else ""
        since = f" since {slack_date(v.at)}" if v.at else ""
        return f"• {name}: :double_vertical_bar: paused{since}{left}"
    if v.outcome == "not_started":
        return f"• {name}s: start at the first response"
    if v.clock == "update":
        return "• Updates: no update interval in this plan"
    return f"• {name}: best effort (no target)"


def _name_or_id(look_up: Callable[[str], Any], id_: str | None) -> str:
    """A severity's or priority's name; its id when the plan no longer has it (reclassified, plan edited)."""
    if not id_:
        return ""
    try:
        return escape(look_up(id_).name)
    except UnknownIdError:
        return escape(id_)


def event_line(e: Any, plan: Plan) -> str:
    """One stored event: when, what, who, why."""
    who = f" by {user_ref(e.actor_id)}" if e.actor_id else ""
    data = e.data or {}

    def sev_name(sev: str | None) -> str:
        return _name_or_id(plan.severity, sev)

    def pri_name(pri: str | None) -> str:
        return _name_or_id(plan.priority, pri)

    kind = e.kind
    if kind == "reported":
        what = f"reported{who}" + (f" in {channel_ref(str(data['channel']))}" if data.get("channel") else "")
    elif kind in ("classified", "reclassified"):
        target = ", ".join(x for x in (sev_name(e.severity), pri_name(e.priority)) if x)
        what = ("classified as" if kind == "classified" else "reclassified to") + f" *{target or '-'}*{who}"
        suggested = data.get("suggested")
        if kind == "classified" and suggested and suggested != e.severity:
            what += f" (suggested: {sev_name(suggested)})"
    elif kind == "updated":
        what = f"update{who}"
        if data.get("text"):
            what += f": “{escape(short(data['text'], 200))}”"
        if e.next_update_at:
            what += f"; next update by {slack_date(e.next_update_at)}"
    elif kind == "assigned":
        assignee = data.get("assignee") or data.get("assignee_id")
        what = f"assigned to {user_ref(str(assignee))}{who}" if assignee else f"assigned{who}"
    elif kind == "escalation_acknowledged":
        clock = data.get("clock")
        what = f"escalation taken{who}" + (f" ({CLOCK_LABELS.get(clock, escape(str(clock)))})" if clock else "")
    else:
        what = f"{escape(kind.replace('_', ' '))}{who}"
    if e.reason:
        label = {"resolved": "resolution", "paused": "waiting for"}.get(kind, "reason")
        what += f" — {label}: _{escape(short(e.reason, 300))}_"
    return f"• {slack_date(e.at)} {what}"


STATE_TEXT = {"open": "Open", "paused": "Paused (waiting on the customer)", "resolved": "Resolved"}


def ticket_message(
    ticket: Any,
    plan: Plan,
    verdicts: Sequence[DeadlineVerdict],
    customer_name: str | None,
    now: datetime,
    business_hours: Mapping[str, bool] | None = None,
) -> tuple[str, list[Block]]:
    """The `/sla ticket INC-42` reply: deadlines with their verdicts, then the event timeline."""
    business_hours = business_hours or {}
    sev = _name_or_id(plan.severity, ticket.severity)
    plan_text = escape(plan.spec.name) + (f" ({escape(customer_name)})" if customer_name else "")
    fields = [
        {"type": "mrkdwn", "text": f"*State*\n{STATE_TEXT.get(ticket.state, escape(ticket.state))}"},
        {"type": "mrkdwn", "text": f"*Severity*\n{sev}"},
        {"type": "mrkdwn", "text": f"*Plan*\n{plan_text}"},
        {"type": "mrkdwn", "text": f"*Owner*\n{owner(ticket)}"},
        {"type": "mrkdwn", "text": f"*Reporter*\n{user_ref(ticket.reporter_id)}"},
        {"type": "mrkdwn", "text": f"*Opened*\n{slack_date(ticket.opened_at)}"},
    ]
    blocks: list[Block] = [
        _header(f"{ticket.key}: {short(ticket.summary, 120)}"),
        {"type": "section", "block_id": "ticket_fields", "fields": fields},
    ]
    if ticket.plan_note:
        blocks.append(_context(":warning: Outside the plan: " + escape(ticket.plan_note)))
    deadline_lines = [verdict_line(v, business_hours.get(v.clock, False)) for v in verdicts]
    blocks += chunk_sections("*Deadlines*", deadline_lines, block_id="ticket_deadlines")
    events = list(ticket.events)
    lines = [event_line(e, plan) for e in events]
    hidden = 0
    if len(lines) > 60:
        hidden, lines = len(lines) - 60, lines[-60:]
    title = "*Timeline*" + (f" _({hidden} earlier events not shown)_" if hidden else "")
    blocks += chunk_sections(title, lines, block_id="ticket_timeline")
    blocks.append(_context(f"As of {slack_date(now)}. Late and early are elapsed time from the deadline."))
    missed = sum(1 for v in verdicts if v.outcome in ("missed", "breached"))
    text = f"{ticket.key}: {len(events)} events, {missed} deadline{'s' if missed != 1 else ''} missed"
    return text, _cap_blocks(blocks)


# -- /sla report -----------------------------------------------------------------------


def breach_text(b: Breach) -> str:
    name = CLOCK_LABELS[b.clock] if b.clock != "update" else f"update {b.period}" if b.period else "update"
    return f"{b.ticket} {name} late by {human(b.late_by)}" + (" (still open)" if b.ongoing else "")


def _group_title(report: Report, g: GroupStats, plans: Mapping[str, Plan]) -> str:
    plan = plans.get(g.plan_id or "")
    plan_name = escape(plan.spec.name) if plan else escape(g.plan_id or "")
    sev = escape(report.severity_names.get((g.plan_id or "", g.severity or ""), g.severity or ""))
    return f"*{plan_name} · {sev}*"


def group_text(g: GroupStats, title: str, max_breaches: int = 8) -> str:
    lines = [
        f"{title}: {g.tickets} ticket{'s' if g.tickets != 1 else ''}",
        f"First response met {rate_text(g.first_response)} · Updates met {rate_text(g.update)} · Resolution met {rate_text(g.resolution)}",
        f"Time to acknowledge: {durations_text(g.acknowledge)} · to resolve: {durations_text(g.resolve)}",
    ]
    if g.breaches:
        shown = [escape(breach_text(b)) for b in g.breaches[:max_breaches]]
        more = len(g.breaches) - len(shown)
        lines.append("Breaches: " + "; ".join(shown) + (f"; and {more} more (see the CSV)" if more else ""))
    else:
        lines.append("Breaches: none")
    return "\n".join(lines)


def total_text(t: GroupStats) -> str:
    lines = group_text(t, "*All tickets*", max_breaches=0).split("\n")[:-1]
    return "\n".join(lines + [f"Breaches: {len(t.breaches)} (listed per plan and severity below)" if t.breaches else "Breaches: none"])


def report_filters(report: Report, mrkdwn: bool = True) -> list[str]:
    """The report's customer and plan filters, as Slack shows them or as plain text."""
    customer = escape(report.customer) if mrkdwn and report.customer else report.customer
    plan = f"`{escape(report.plan_id)}`" if mrkdwn and report.plan_id else report.plan_id
    return ([f"customer {customer}"] if customer else []) + ([f"plan {plan}"] if plan else [])


def report_scope(report: Report) -> str:
    last = report.period.end_day - timedelta(days=1)
    parts = [f"Tickets opened {report.period.first_day.isoformat()} to {last.isoformat()} (each in its plan's time zone)"]
    return " · ".join(parts + report_filters(report) + [f"as of {slack_date(report.now)}"])


def quota_lines(report: Report) -> list[str]:
    out = []
    for q in report.quota:
        mark = " :warning:" if q.state == "over" else ""
        out.append(f"• {escape(q.describe())}{mark}")
    return out


def report_message(report: Report, plans: Mapping[str, Plan], attachments_note: str | None = None) -> tuple[str, list[Block]]:
    """The `/sla report` reply."""
    title = f"SLA report {report.period.label}"
    blocks: list[Block] = [_header(title), _context(report_scope(report))]
    if not report.tickets:
        text = (
            f"No tickets were opened in {report.period.label}"
            + (f" for {report.customer}" if report.customer else "")
            + (f" on plan {report.plan_id}" if report.plan_id else "")
            + "."
        )
        blocks.append(_section(escape(text), "report_empty"))
    else:
        t = report.total
        fr = "n/a" if t.first_response.percent is None else f"{t.first_response.percent:.0f}%"
        text = f"{title}: {t.tickets} tickets, first response met {fr}, {len(t.breaches)} breach{'es' if len(t.breaches) != 1 else ''}"
        blocks.append(_section(total_text(t), "report_total"))
        blocks.append({"type": "divider"})
        for i, g in enumerate(report.groups[:40]):
            blocks.append(_section(group_text(g, _group_title(report, g, plans)), f"report_group_{i}"))
        if len(report.groups) > 40:
            blocks.append(_context(f"…and {len(report.groups) - 40} more plan and severity groups: see the CSV."))
    if report.quota:
        blocks += chunk_sections("*Case quota*", quota_lines(report), block_id="report_quota")
    if attachments_note:
        blocks.append(_context(attachments_note))
    return text, _cap_blocks(blocks)
