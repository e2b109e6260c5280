"""Items 4 and 5 of issue 9, through the engine: pauses, courtesy updates, update periods across a
reclassification, promised updates; escalations that respect the plan's hours.

The Slack-path versions of the same rules are in tests/test_contract_clocks_e2e.py.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from rules.board import TicketFacts
from rules.compliance import deadline_verdicts, outcome
from rules.notifications import next_repeat, planned_notifications, still_applies
from rules.policy_load import load_policies, parse_policy
from rules.sla import ClockStatus, TicketEvent, evaluate

UTC = timezone.utc
M, H = timedelta(minutes=1), timedelta(hours=1)
PRESETS = load_policies()
T = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # Tue


def ev(kind: str, minutes: int, **kw) -> TicketEvent:
    return TicketEvent(kind, T + minutes * M, **kw)  # type: ignore[arg-type]


# -- item 4: pause, courtesy updates, reclassification, promises ------------------------------------


def test_pausing_before_any_response_stops_the_first_response_clock() -> None:
    """The question that pausing asks the customer is a human response: no escalation while the customer owes the answer."""
    plan = PRESETS.plan("comarch-cci-premium")  # business-critical: first response 30m
    s = evaluate(plan, "business-critical", T, [ev("paused", 10)], T + 2 * H)
    fr = s.clocks["first_response"]
    assert (fr.status, fr.stopped_at) == (ClockStatus.MET, T + 10 * M)
    assert not [n for n in planned_notifications(s, plan.notifications) if n.clock == "first_response"]


# commercetools s1: first response 20m, updates every 30m or as stated; s2: no update obligation
UPDATE_CASES = [
    # (case, events, now (minutes), expected update verdicts, expected running update due (minutes) or None)
    ("no update during the pause", [ev("responded", 5), ev("paused", 10), ev("resolved", 120)], 130, ["met"], None),
    (
        "a courtesy update during the pause",
        [ev("responded", 5), ev("paused", 10), ev("updated", 50), ev("resolved", 120)],
        130,
        ["met"],
        None,
    ),
    (
        "a promise made in the pause survives the resume",
        [ev("responded", 5), ev("paused", 10), ev("updated", 20, next_update_at=T + 200 * M), ev("resumed", 60)],
        61,
        ["met"],
        200,
    ),
    (
        "a promise that ran out in the pause does not",
        [ev("responded", 5), ev("paused", 10), ev("updated", 20, next_update_at=T + 40 * M), ev("resumed", 60)],
        61,
        ["met"],
        90,
    ),
]


@pytest.mark.parametrize(("case", "events", "now", "verdicts", "due"), UPDATE_CASES, ids=[c[0] for c in UPDATE_CASES])
def test_updates_while_paused_are_courtesies(case, events, now, verdicts, due) -> None:
    plan = PRESETS.plan("commercetools-premium")
    s = evaluate(plan, "s1", T, events, T + now * M)
    got = [v.outcome for v in deadline_verdicts(s, T + now * M) if v.clock == "update" and v.outcome in ("met", "missed")]
    assert got == verdicts
    upd = s.clocks["update"]
    assert (upd.due if upd.active else None) == (T + due * M if due is not None else None)


@pytest.mark.parametrize(
    ("first", "second", "while_running", "after"),
    [
        # s2 owes no updates; reclassified to s1 ten minutes into the period: s1's 30m from the period's start
        ("s2", "s1", "breached", "missed"),
        # s1 -> s2: the period owes nothing any more, while running and once ended
        ("s1", "s2", "no_target", None),
    ],
)
def test_an_update_period_across_a_reclassification_has_one_verdict(first, second, while_running, after) -> None:
    plan = PRESETS.plan("commercetools-premium")
    events = [ev("responded", 5), ev("reclassified", 15, severity=second)]
    running = evaluate(plan, first, T, events, T + 40 * M)
    verdict = [v for v in deadline_verdicts(running, T + 40 * M) if v.clock == "update"][-1]
    assert verdict.outcome == while_running
    if while_running == "breached":
        assert verdict.due == T + 35 * M
    ended = evaluate(plan, first, T, [*events, ev("updated", 50)], T + 51 * M)
    closed = [v.outcome for v in deadline_verdicts(ended, T + 51 * M) if v.clock == "update" and v.outcome in ("met", "missed")]
    assert closed == ([after] if after else [])


def test_a_promised_update_where_none_is_owed_is_a_reminder_not_a_deadline() -> None:
    plan = PRESETS.plan("commercetools-premium")
    events = [ev("responded", 5), ev("updated", 10, next_update_at=T + 70 * M)]
    s = evaluate(plan, "s2", T, events, T + 11 * M)
    upd = s.clocks["update"]
    assert (upd.status, upd.due) == (ClockStatus.COURTESY, T + 70 * M)
    plan_update = [(n.kind, n.label, n.at) for n in planned_notifications(s, plan.notifications) if n.clock == "update"]
    assert plan_update == [("reminder", "promised update", T + 70 * M)]  # no percentages, no escalation ladder
    assert still_applies(evaluate(plan, "s2", T, events, T + 70 * M), "update", "reminder", T + 70 * M)
    late = evaluate(plan, "s2", T, events, T + 3 * H)
    assert late.clocks["update"].status is ClockStatus.COURTESY  # never breached
    facts = TicketFacts("INC-1", plan.id, late)
    assert outcome(facts, T + 3 * H).update.total == 0  # not counted in compliance
    # and an update after the promised time is no missed period either
    after = evaluate(plan, "s2", T, [*events, ev("updated", 120)], T + 121 * M)
    assert after.clocks["update"].history == ()


# -- item 5: escalations respect the plan's hours ---------------------------------------------------

FRI_18 = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # Fri 18:00 Warsaw: Comarch Basic closes
MON_09 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # Mon 09:00 Warsaw: it opens


def weekend_pings(plan, s) -> list[tuple[str, datetime]]:
    """Every escalation ping of the first-response clock until Monday noon, the last level's repeats included."""
    planned = [n for n in planned_notifications(s, plan.notifications) if n.clock == "first_response" and n.kind == "escalation"]
    pings = list(planned)
    last = planned[-1]
    calendar = s.clocks["first_response"].calendar
    while (nxt := next_repeat(last, plan.notifications, calendar)) is not None and nxt.at < MON_09 + 3 * H:
        pings.append(nxt)
        last = nxt
    return [(n.label, n.at) for n in pings if n.at < MON_09 + 3 * H]


def test_comarch_basic_breached_friday_evening_waits_for_monday() -> None:
    """Opened Thu 15:00 Warsaw, 12 business hours: due Fri 18:00. One ping at once, the rest from Monday 09:00."""
    plan = PRESETS.plan("comarch-cci-basic")
    opened = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    s = evaluate(plan, "business-critical", opened, [], opened)
    assert s.clocks["first_response"].due == FRI_18
    assert weekend_pings(plan, s) == [
        ("level 1", FRI_18),  # the first breach ping goes out at once
        ("level 2", MON_09 + 30 * M),  # 30 business minutes after the breach
        ("level 3", MON_09 + 60 * M),
        ("level 3 repeat 1", MON_09 + 2 * H),  # every business hour, not 71 times over the weekend
    ]


def test_hours_always_on_a_level_pings_at_any_hour_and_24_7_plans_are_unchanged() -> None:
    text = """
vendor: {id: acme, name: Acme, timezone: Europe/Warsaw}
severities: [{id: high, name: High, definition: "down"}]
calendars:
  office: {timezone: Europe/Warsaw, hours: {mon-fri: "09:00-18:00"}}
notifications:
  escalation:
    - {level: 1, notify: on-call, after: 0m, repeat_every: 30m}
    - {level: 2, notify: manager, after: 1h, repeat_every: 1h, hours: always}
plans:
  - {id: acme-basic, name: Basic, calendar: office, targets: {high: {first_response: 12h}}}
"""
    plan = parse_policy(text, "acme.yaml").plans["acme-basic"]
    opened = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
    s = evaluate(plan, "high", opened, [], opened)
    pings = [(n.label, n.at) for n in planned_notifications(s, plan.notifications) if n.kind == "escalation"]
    assert pings == [("level 1", FRI_18), ("level 2", FRI_18 + H)]  # level 2 keeps no office hours
    nxt = next_repeat(planned_notifications(s, plan.notifications)[-1], plan.notifications, s.clocks["first_response"].calendar)
    assert nxt is not None and nxt.at == FRI_18 + 2 * H
    # a 24/7 plan: elapsed time, as before
    premium = PRESETS.plan("comarch-cci-premium")
    p = evaluate(premium, "business-critical", FRI_18, [], FRI_18)
    esc = [
        (n.label, n.at) for n in planned_notifications(p, premium.notifications) if n.kind == "escalation" and n.clock == "first_response"
    ]
    assert esc == [("level 1", FRI_18 + 30 * M), ("level 2", FRI_18 + 60 * M), ("level 3", FRI_18 + 90 * M)]
