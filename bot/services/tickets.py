"""A responder's action on a ticket: checked against its state, logged, clocks and timers brought up to date."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Sequence

from bot.logs import bind
from rules.actions import action, check_allowed
from rules.errors import Conflict, InvalidInput, NotFound
from rules.policy import Plan
from rules.sla import SlaStatus
from rules.terms import Terms
from storage.models import Ticket, TicketEventRow
from storage.outbox import owe
from storage.tickets import OWED, _ticket_number, add_terms, evaluate_ticket, lock_ticket
from storage.timers import sync_timers

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionResult:
    ticket: Ticket
    status: SlaStatus
    plan: Plan
    event: TicketEventRow
    post_ids: list[int] = field(default_factory=list)  # the posts this action owes (outbox rows)


OwedPosts = Callable[[ActionResult], Sequence[tuple[str, "str | None", str]]]


async def record_action(
    services: "Services",
    key: str | int,
    kind: str,
    actor_id: str,
    *,
    severity: str | None = None,
    priority: str | None = None,
    reason: str | None = None,
    next_update_at: datetime | None = None,
    data: dict[str, Any] | None = None,
    posts: OwedPosts | None = None,
) -> ActionResult:
    """Append one responder action to a ticket's log and bring its clocks up to date.

    `posts` renders what the action owes Slack, as (kind, channel, text): stored
    as outbox rows in the same transaction, so a recorded action is never left unposted.
    An action the customer sees (`Action.customer_visible`) that owes posts counts for
    the clocks only once its message reached the customer (`storage.tickets.mark_shown`,
    called when the outbox records that post as sent).
    """
    act = action(kind)
    bind(ticket=key if isinstance(key, str) else f"INC-{key}")  # the rest of this request logs with the ticket
    now = services.clock.now()
    ticket_id = _ticket_number(key)
    async with services.sessions() as s:
        ticket = await lock_ticket(s, ticket_id)  # two responders clicking at once: one after the other
        if ticket is None:
            raise NotFound(f"no ticket INC-{ticket_id}")
        check_allowed(act, ticket.key, ticket.state)
        if act.reason_required and not (reason or "").strip():
            raise InvalidInput(act.reason_required)
        plan = services.policies.plan(ticket.plan_id)
        if kind == "reclassified":
            if severity is None and priority is None:
                raise InvalidInput("choose a new severity or priority")
            if severity is not None:
                plan.severity(severity)
            if priority is not None:
                plan.priority(priority)
            if severity == ticket.severity and priority in (None, ticket.priority):
                raise Conflict(f"{ticket.key} already has that severity and priority")
        if kind == "assigned" and not (data or {}).get("assignee"):
            raise InvalidInput("say who to assign it to")
        if kind == "updated" and next_update_at is not None and next_update_at <= now:
            raise InvalidInput("the next update must be in the future")
        owed = posts is not None and act.customer_visible
        event = TicketEventRow(
            ticket_id=ticket.id,
            kind=kind,
            at=now,
            actor_id=actor_id,
            severity=severity if kind == "reclassified" else None,
            priority=priority if kind == "reclassified" else None,
            reason=reason,
            next_update_at=next_update_at,
            data={**(data or {}), **({"customer_post": OWED} if owed else {})},
        )
        s.add(event)
        ticket.events.append(event)
        if act.first_response and ticket.first_response_at is None and not owed:
            ticket.first_response_at = now
        if act.leads_to is not None:
            ticket.state = act.leads_to
            ticket.resolved_at = now if act.leads_to == "resolved" else None
        if kind == "reclassified":
            if severity is not None and severity != ticket.severity:
                ticket.severity = severity
                targets = plan.targets_for(severity)
                ticket.applied_severity = targets.applied_severity
                add_terms(plan, ticket, ticket.events, Terms(now, targets))  # the new severity's terms, from now
            if priority is not None:
                ticket.priority = priority
        elif kind == "assigned":
            ticket.assignee_id = (data or {})["assignee"]
        status = evaluate_ticket(plan, ticket, ticket.events, now, ticket.clocks)
        services._store_clocks(s, ticket, status, list(ticket.clocks))
        await sync_timers(s, ticket.id, status, plan)
        result = ActionResult(ticket, status, plan, event)
        if posts is not None:
            await s.flush()
            rows = [owe(s, ticket.id, kind, now, channel_id=channel, text=text, event_id=event.id) for kind, channel, text in posts(result)]
            await s.flush()
            result.post_ids.extend(r.id for r in rows)
        await s.commit()
        log.info("%s %s by %s", ticket.key, kind, actor_id)  # ids only: reasons and update text stay out of the log
        return result
