"""rules/board.py: the status board's at-risk rule and its order, on the hand-built tickets."""

from __future__ import annotations

from datetime import timedelta

from rules.board import Urgency, classify, status_board
from tests.report_data import GOLD, NOW, SILVER, H, M, ev, hand_built, ticket, utc

# -- the status board --------------------------------------------------------------------


def test_at_risk_rule() -> None:
    # under 30 minutes left, or under 25% of the target
    assert classify(29 * M, 8 * H) is Urgency.AT_RISK
    assert classify(30 * M, 1 * H) is Urgency.ON_TRACK  # 30m is not under 30m, and 50% is left
    assert classify(59 * M, 4 * H) is Urgency.AT_RISK  # 24.6% left
    assert classify(60 * M, 4 * H) is Urgency.ON_TRACK  # exactly 25%
    assert classify(-M, 4 * H) is Urgency.BREACHED
    assert classify(timedelta(0), None) is Urgency.AT_RISK


def test_status_board_order() -> None:
    tickets = hand_built() + [
        # first response due 12:20: 20m left, under the 30-minute floor -> at risk
        ticket("INC-9", GOLD, "high", utc(11, 20, 11, 20), assignee="U0RON"),
        # low: 4h target due 12:30, 30m left = 12.5% of the target -> at risk by share
        ticket("INC-10", GOLD, "low", utc(11, 20, 8, 30)),
        # paused with the first response met: no deadline running
        ticket(
            "INC-11",
            GOLD,
            "high",
            utc(11, 20, 10),
            [ev("responded", utc(11, 20, 10, 10)), ev("paused", utc(11, 20, 10, 20))],
            state="paused",
        ),
        # silver office hours: opened 09:25 Berlin, 4 business hours -> due 13:25 Berlin (12:25 UTC), 25m left
        ticket("INC-12", SILVER, "high", utc(11, 20, 8, 25)),
    ]
    board = status_board(tickets, NOW)
    assert [(r.ticket.key, r.urgency.value, r.headline.clock if r.headline else None) for r in board] == [
        ("INC-5", "breached", "first_response"),
        ("INC-9", "at_risk", "first_response"),  # due 12:20
        ("INC-12", "at_risk", "first_response"),  # due 12:25
        ("INC-10", "at_risk", "first_response"),  # due 12:30
        ("INC-4", "on_track", "first_response"),  # due 12:40
        ("INC-8", "no_deadline", None),  # responded to, and silver has no update or resolution target
        ("INC-11", "no_deadline", None),  # paused
    ]  # resolved tickets (INC-1, 2, 3, 6, 7) are not on the board
    inc5 = board[0]
    assert inc5.headline.late_by == 27 * H
    assert [(o.clock, o.urgency.value, o.late_by) for o in inc5.others] == [("resolution", "breached", 20 * H)]
    inc12 = board[2]
    assert inc12.headline.business_hours and inc12.headline.left == 25 * M
    assert board[1].ticket.assignee_id == "U0RON"
