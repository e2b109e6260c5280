"""What responders can do to a ticket, in one table: per action the states it is allowed in, the
event it becomes for the SLA engine, the words people read, whether it asks (or needs) a reason,
whether the customer sees it, and what it does to the ticket's state and first response.

bot.services.tickets checks and records actions from it, storage.tickets feeds the engine from
it, handlers.ticket_commands reads its command words, handlers.responders its permission words,
bot.views.ticket its thread verbs. Adding an action is one row here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rules.errors import Conflict, InvalidInput

TicketState = Literal["open", "paused", "resolved"]
ACTIVE: frozenset[TicketState] = frozenset({"open", "paused"})


@dataclass(frozen=True)
class Action:
    kind: str  # the stored event kind, also the past tense in "Done: INC-42 acknowledged"
    allowed_in: frozenset[TicketState]
    engine_kind: str | None  # the rules.sla event kind; None: audit only
    infinitive: str  # "cannot acknowledge it now"
    thread_verb: str  # "<@U1> acknowledged INC-42", "<@U1> posted an update on INC-42"
    permission: str  # "Only responders can acknowledge tickets."
    command: str | None = None  # `/sla ack INC-42`
    asks_reason: bool = False  # its form and command ask why (a required input; `/sla pause` refuses without)
    reason_required: str | None = None  # the log must have one: the service refuses without, saying this
    # The customer is told (in the customer's channel thread): it counts for the clocks only once that is posted.
    customer_visible: bool = False
    first_response: bool = False  # the first one of these is the ticket's first response
    leads_to: TicketState | None = None  # the ticket's state afterwards (None: unchanged)


ACTIONS: dict[str, Action] = {
    a.kind: a
    for a in (
        # kind, allowed in, engine kind, infinitive, thread verb, permission; then the keyword facts
        Action(
            "acknowledged",
            ACTIVE,
            "responded",
            "acknowledge",
            "acknowledged",
            "acknowledge tickets",
            command="ack",
            customer_visible=True,
            first_response=True,
        ),
        Action(
            "updated",
            ACTIVE,
            "updated",
            "post an update on",
            "posted an update on",
            "post updates",
            command="update",
            customer_visible=True,
            first_response=True,
        ),
        Action(
            "reclassified",
            ACTIVE,
            "reclassified",
            "reclassify",
            "reclassified",
            "reclassify tickets",
            command="reclassify",
            asks_reason=True,
            reason_required="a reclassification needs a reason",
        ),
        Action("assigned", ACTIVE, None, "assign", "assigned", "assign tickets", command="assign"),
        Action(
            "paused",
            frozenset({"open"}),
            "paused",
            "pause",
            "paused",
            "pause tickets",
            command="pause",
            asks_reason=True,
            customer_visible=True,
            first_response=True,
            leads_to="paused",  # asks the customer
        ),
        Action(
            "resumed",
            frozenset({"paused"}),
            "resumed",
            "resume",
            "resumed",
            "resume tickets",
            command="resume",
            leads_to="open",
        ),
        Action(
            "resolved",
            ACTIVE,
            "resolved",
            "resolve",
            "resolved",
            "resolve tickets",
            command="resolve",
            asks_reason=True,
            customer_visible=True,
            first_response=True,
            leads_to="resolved",
        ),
        Action(
            "reopened",
            frozenset({"resolved"}),
            "reopened",
            "reopen",
            "reopened",
            "reopen tickets",
            command="reopen",
            customer_visible=True,
            leads_to="open",
        ),
        # A responder's reply in the internal (triage) thread: logged, the customer sees nothing, no clock stops.
        Action("noted", ACTIVE, None, "note", "noted", "write notes"),
        Action(
            "escalation_acknowledged",
            ACTIVE,
            "escalation_acknowledged",
            "take the escalation of",
            "took the escalation of",
            "take escalations",
        ),
    )
}
BY_COMMAND: dict[str, Action] = {a.command: a for a in ACTIONS.values() if a.command}
ENGINE_KIND: dict[str, str] = {a.kind: a.engine_kind for a in ACTIONS.values() if a.engine_kind}  # stored kind -> engine kind


def action(kind: str) -> Action:
    try:
        return ACTIONS[kind]
    except KeyError:
        raise InvalidInput(f"unknown action {kind!r}") from None


def check_allowed(act: Action, ticket_key: str, state: str) -> None:
    """Raise `Conflict` in the person's words when the ticket's state does not allow the action."""
    if state not in act.allowed_in:
        raise Conflict(f"{ticket_key} is {state}: cannot {act.infinitive} it now")
