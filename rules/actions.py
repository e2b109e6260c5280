"""What responders can do to a ticket: the states each action is allowed in, the event it
becomes for the SLA engine, and the verb the thread message uses.

Three tables for now, side by side (bot.services.tickets, storage.tickets and
bot.views.ticket read them).
"""

from __future__ import annotations

# Stored event kinds -> the rules engine's kinds (others are audit only).
_ENGINE_KIND = {
    "acknowledged": "responded",
    "updated": "updated",
    "paused": "paused",
    "resumed": "resumed",
    "resolved": "resolved",
    "reopened": "reopened",
    "reclassified": "reclassified",
    "escalation_acknowledged": "escalation_acknowledged",
}


# action -> states it is allowed in
_ALLOWED_IN = {
    "acknowledged": {"open", "paused"},
    "updated": {"open", "paused"},
    "reclassified": {"open", "paused"},
    "paused": {"open"},
    "resumed": {"paused"},
    "resolved": {"open", "paused"},
    "reopened": {"resolved"},
    "assigned": {"open", "paused"},
    "escalation_acknowledged": {"open", "paused"},
}


VERB = {
    "acknowledged": "acknowledged",
    "updated": "posted an update on",
    "reclassified": "reclassified",
    "assigned": "assigned",
    "paused": "paused",
    "resumed": "resumed",
    "resolved": "resolved",
    "reopened": "reopened",
}
