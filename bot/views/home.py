"""Block Kit for the App Home: the viewer's own tickets, the team's urgent ones, this month's compliance."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

from bot.views.blocks import Block, _capped, _context, _header, _section, chunk_sections, slack_date
from bot.views.manager import board_line, rate_text
from rules.board import BoardRow, Urgency
from rules.compliance import Totals


def home_view(
    user_id: str,
    mine: Sequence[BoardRow],
    board: Sequence[BoardRow] | None,
    report: Totals | None,
    now: datetime,
    mine_total: int | None = None,
    board_counts: Mapping[Urgency, int] | None = None,
) -> dict[str, Any]:
    """The viewer's dashboard. `board` and `report` are None for people who are not responders or managers.

    `mine_total` and `board_counts`: the full counts when `mine` and `board` are only the rows shown.
    """
    blocks: list[Block] = [_header("SLA dashboard"), _context(f"Updated {slack_date(now)}. Open this tab again to refresh.")]
    my_lines = _padded([board_line(r) for r in mine], mine_total)
    blocks += chunk_sections(
        "*Your open tickets* (you reported them or they are assigned to you)",
        _capped(my_lines, 15, "(`/sla status` lists them all)") or ["_None._"],
        block_id="home_mine",
    )
    blocks.append({"type": "divider"})
    if board is None or report is None:
        blocks.append(_context("The team's at-risk list and compliance figures are shown to responders and managers."))
        return {"type": "home", "blocks": blocks}
    urgent = [board_line(r) for r in board if r.urgency in (Urgency.BREACHED, Urgency.AT_RISK)]
    if board_counts is not None:
        urgent = _padded(urgent, board_counts.get(Urgency.BREACHED, 0) + board_counts.get(Urgency.AT_RISK, 0))
    blocks += chunk_sections(
        "*Breached and at risk*",
        _capped(urgent, 20, "(`/sla status` lists them all)") or ["_Nothing is breached or at risk._"],
        block_id="home_risk",
    )
    blocks.append({"type": "divider"})
    t = report
    if t.tickets:
        compliance = (
            f"{t.tickets} ticket{'s' if t.tickets != 1 else ''} opened · first response met {rate_text(t.first_response)}"
            f" · updates met {rate_text(t.update)} · resolution met {rate_text(t.resolution)} · {t.breaches} breach"
            + ("es" if t.breaches != 1 else "")
        )
    else:
        compliance = "_No tickets opened this month yet._"
    blocks.append(_section(f"*This month's compliance* ({report.period.label})\n{compliance}", "home_compliance"))
    blocks.append(_context("`/sla status` · `/sla ticket INC-42` · `/sla report` (managers)"))
    return {"type": "home", "blocks": blocks[:100]}


def _padded(lines: list[str], total: int | None) -> list[str]:
    """Lines standing for `total` rows of which only the first were read: `_capped` then counts the rest."""
    if total is None or total <= len(lines):
        return lines
    return lines + [""] * (total - len(lines))
