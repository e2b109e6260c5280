"""SLA clocks rebuilt from events: responses, updates, pauses, reclassification, escalation."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from rules.errors import UnknownIdError
from rules.notifications import due_notifications, notification_schedule
from rules.policy import PolicySet
from rules.sla import ClockStatus, TicketEvent, evaluate

M = timedelta(minutes=1)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_first_response_met_and_missed(policies: PolicySet) -> None:
    plan = policies.plan("comarch-cci-premium")
    opened = at("2026-11-30T10:00+01:00")
    met = evaluate(plan, "business-critical", opened, [TicketEvent("responded", opened + 30 * M)], now=opened + 2 * 60 * M)
    assert met.clocks["first_response"].status is ClockStatus.MET
    late = evaluate(plan, "business-critical", opened, [TicketEvent("responded", opened + 31 * M)], now=opened + 60 * M)
    assert late.clocks["first_response"].status is ClockStatus.MISSED
    running = evaluate(plan, "business-critical", opened, [], now=opened + 29 * M)
    assert running.clocks["first_response"].status is ClockStatus.RUNNING
    assert running.clocks["first_response"].remaining(opened + 29 * M) == M
    breached = evaluate(plan, "business-critical", opened, [], now=opened + 45 * M)
    assert breached.clocks["first_response"].status is ClockStatus.BREACHED
    assert breached.clocks["first_response"].remaining(opened + 45 * M) == -15 * M


def test_events_after_now_are_not_seen(policies: PolicySet) -> None:
    plan = policies.plan("comarch-cci-premium")
    opened = at("2026-11-30T10:00+01:00")
    s = evaluate(plan, "business-critical", opened, [TicketEvent("responded", opened + 20 * M)], now=opened + 10 * M)
    assert s.clocks["first_response"].status is ClockStatus.RUNNING


def test_update_clock_restarts_and_honours_stated_next_update(policies: PolicySet) -> None:
    """commercetools S1: updates every 30 minutes or as stated in the previous update."""
    plan = policies.plan("commercetools-premium")
    opened = at("2026-11-28T03:00+01:00")  # a Saturday: S1 is 24/7
    events = [
        TicketEvent("responded", opened + 10 * M),
        TicketEvent("updated", opened + 35 * M),
        TicketEvent("updated", opened + 60 * M, next_update_at=opened + 180 * M),
    ]
    s = evaluate(plan, "s1", opened, events[:1], now=opened + 20 * M)
    assert s.clocks["update"].due == opened + 40 * M
    s = evaluate(plan, "s1", opened, events[:2], now=opened + 36 * M)
    assert s.clocks["update"].due == opened + 65 * M
    s = evaluate(plan, "s1", opened, events, now=opened + 100 * M)
    assert s.clocks["update"].due == opened + 180 * M and s.clocks["update"].status is ClockStatus.RUNNING
    assert [p.met for p in s.clocks["update"].history] == [True, True]
    s = evaluate(plan, "s1", opened, events, now=opened + 181 * M)
    assert s.clocks["update"].status is ClockStatus.BREACHED


def test_update_clock_not_started_before_first_response(policies: PolicySet) -> None:
    plan = policies.plan("commercetools-premium")
    opened = at("2026-11-28T03:00+01:00")
    assert evaluate(plan, "s1", opened, [], now=opened).clocks["update"].status is ClockStatus.NOT_STARTED
    assert evaluate(plan, "s2", opened, [], now=opened).clocks["update"].status is ClockStatus.NO_TARGET


def test_pause_is_not_counted_towards_resolution(policies: PolicySet) -> None:
    """Gold sev1: 16 business hours; a pause waiting on the customer moves the deadline."""
    plan = policies.plan("business-support-gold")
    opened = at("2026-11-30T10:00+01:00")  # due Wed 2 Dec 10:00 without pauses
    events = [TicketEvent("paused", at("2026-11-30T12:00+01:00")), TicketEvent("resumed", at("2026-12-01T12:00+01:00"))]
    paused = evaluate(plan, "sev1", opened, events[:1], now=at("2026-12-01T09:00+01:00"))
    res = paused.clocks["resolution"]
    assert res.status is ClockStatus.PAUSED and res.due is None
    assert res.remaining_at_pause == timedelta(hours=14)
    resumed = evaluate(plan, "sev1", opened, events, now=at("2026-12-01T12:00+01:00"))
    # paused 12:00 Mon to 12:00 Tue = 8 business hours
    assert resumed.clocks["resolution"].due == at("2026-12-03T10:00+01:00")
    assert resumed.clocks["resolution"].remaining(at("2026-12-01T12:00+01:00")) == timedelta(hours=14)
    # while paused, nothing is scheduled for the resolution clock
    assert not [n for n in notification_schedule(paused, plan.notifications, at("2026-12-31T00:00+01:00")) if n.clock == "resolution"]


def test_pause_after_breach_does_not_undo_it(policies: PolicySet) -> None:
    plan = policies.plan("business-support-gold")
    opened = at("2026-11-30T10:00+01:00")
    events = [TicketEvent("paused", at("2026-12-02T11:00+01:00"))]
    s = evaluate(plan, "sev1", opened, events, now=at("2026-12-02T12:00+01:00"))
    assert s.clocks["resolution"].status is ClockStatus.BREACHED
    assert s.clocks["resolution"].due == at("2026-12-02T10:00+01:00")


def test_reclassification_recomputes_from_original_start(policies: PolicySet) -> None:
    plan = policies.plan("comarch-cci-premium")
    opened = at("2026-11-30T10:00+01:00")
    # system-impaired: 12h. After 2h it turns out to be business-critical (30m): breached at once.
    events = [TicketEvent("reclassified", opened + 120 * M, severity="business-critical")]
    before = evaluate(plan, "system-impaired", opened, events, now=opened + 119 * M)
    assert before.clocks["first_response"].status is ClockStatus.RUNNING
    after = evaluate(plan, "system-impaired", opened, events, now=opened + 120 * M)
    assert after.severity == "business-critical"
    assert after.clocks["first_response"].due == opened + 30 * M
    assert after.clocks["first_response"].status is ClockStatus.BREACHED
    # Breached 90 minutes ago under the new severity: one ping now, at the ladder's current level.
    now_due = due_notifications(after, plan.notifications, now=opened + 120 * M)
    assert [(n.kind, n.level, n.at) for n in now_due] == [("escalation", 3, opened + 90 * M)]
    assert due_notifications(after, plan.notifications, now=opened + 120 * M, sent={now_due[0].key}) == []


def test_stopped_clock_keeps_its_verdict_after_reclassification(policies: PolicySet) -> None:
    plan = policies.plan("comarch-cci-premium")
    opened = at("2026-11-30T10:00+01:00")
    events = [TicketEvent("responded", opened + 60 * M), TicketEvent("reclassified", opened + 90 * M, severity="business-critical")]
    s = evaluate(plan, "system-impaired", opened, events, now=opened + 120 * M)
    assert s.clocks["first_response"].status is ClockStatus.MET


def test_reopen_does_not_count_time_spent_resolved(policies: PolicySet) -> None:
    plan = policies.plan("business-support-gold")
    opened = at("2026-11-30T10:00+01:00")
    events = [
        TicketEvent("responded", opened + 60 * M),
        TicketEvent("resolved", at("2026-11-30T16:00+01:00")),
        TicketEvent("reopened", at("2026-12-01T16:00+01:00")),
    ]
    resolved = evaluate(plan, "sev1", opened, events[:2], now=at("2026-12-01T10:00+01:00"))
    assert resolved.clocks["resolution"].status is ClockStatus.MET
    reopened = evaluate(plan, "sev1", opened, events, now=at("2026-12-01T16:00+01:00"))
    # 6 bh used before resolving; 10 bh left from Tue 16:00: Tue 1h, Wed 8h, Thu 1h
    assert reopened.clocks["resolution"].due == at("2026-12-03T10:00+01:00")
    assert reopened.clocks["resolution"].status is ClockStatus.RUNNING


def test_reminders_follow_policy_and_stop_when_clock_stops(policies: PolicySet) -> None:
    plan = policies.plan("comarch-cci-basic")
    opened = at("2026-11-27T16:00+01:00")  # system-impaired: 12 bh -> Tue 10:00
    s = evaluate(plan, "system-impaired", opened, [], now=opened)
    reminders = [n for n in notification_schedule(s, plan.notifications, at("2026-12-01T10:00+01:00")) if n.kind == "reminder"]
    # 50% = 6 bh: Fri 2h + Mon 4h -> Mon 13:00; 75% = 9 bh -> Mon 16:00; 90% = 10.8 bh -> Mon 17:48
    assert [(n.label, n.at) for n in reminders] == [
        ("50%", at("2026-11-30T13:00+01:00")),
        ("75%", at("2026-11-30T16:00+01:00")),
        ("90%", at("2026-11-30T17:48+01:00")),
    ]
    answered = evaluate(plan, "system-impaired", opened, [TicketEvent("responded", opened + M)], now=opened + M)
    assert notification_schedule(answered, plan.notifications, at("2026-12-31T00:00+01:00")) == []


def test_escalation_ladder_repeats_until_acknowledged(policies: PolicySet) -> None:
    plan = policies.plan("comarch-cci-premium")  # levels at +0 (every 30m), +30m (every 30m), +1h (every 1h)
    opened = at("2026-11-30T10:00+01:00")
    due = opened + 30 * M
    s = evaluate(plan, "business-critical", opened, [], now=due + 200 * M)
    pings = [(n.level, n.at - due) for n in notification_schedule(s, plan.notifications, due + 200 * M) if n.kind == "escalation"]
    assert pings == [(1, 0 * M), (2, 30 * M), (3, 60 * M), (3, 120 * M), (3, 180 * M)]
    acked = evaluate(
        plan, "business-critical", opened, [TicketEvent("escalation_acknowledged", due + 5 * M, clock="first_response")], now=due + 200 * M
    )
    assert [n for n in notification_schedule(acked, plan.notifications, due + 200 * M) if n.kind == "escalation"] == []
    keys = [n.key for n in notification_schedule(s, plan.notifications, due + 200 * M)]
    assert len(keys) == len(set(keys))


def test_unknown_severity_lists_valid_ids(policies: PolicySet) -> None:
    plan = policies.plan("commercetools-premium")
    with pytest.raises(UnknownIdError, match="valid: s1, s2, s3, s4"):
        evaluate(plan, "p1", at("2026-11-30T10:00+01:00"), [], now=at("2026-11-30T10:00+01:00"))


def test_placeholder_plan_has_no_deadlines_and_says_so(policies: PolicySet) -> None:
    plan = policies.plan("blancco-sp1")
    s = evaluate(plan, "sev1", at("2026-11-30T10:00+02:00"), [], now=at("2026-11-30T10:00+02:00"))
    assert s.placeholder_targets
    assert s.clocks["first_response"].due is None and s.clocks["first_response"].status is ClockStatus.NO_TARGET


def test_planned_notifications_are_finite_and_repeats_follow_one_by_one(policies: PolicySet) -> None:
    from rules.notifications import next_repeat, planned_notifications, still_applies

    plan = policies.plan("comarch-cci-premium")  # 30m; L1 +0 every 30m, L2 +30m every 30m, L3 +1h every 1h
    opened = at("2026-11-30T10:00+01:00")
    due = opened + 30 * M
    s = evaluate(plan, "business-critical", opened, [], now=opened)
    planned = planned_notifications(s, plan.notifications)
    assert [(n.kind, n.label, n.at - opened) for n in planned] == [
        ("reminder", "50%", 15 * M),
        ("reminder", "75%", timedelta(minutes=22, seconds=30)),
        ("reminder", "90%", 27 * M),
        ("escalation", "level 1", 30 * M),
        ("escalation", "level 2", 60 * M),
        ("escalation", "level 3", 90 * M),
    ]
    last = planned[-1]
    second = next_repeat(last, plan.notifications)
    assert (second.at - due, second.repeat, second.label) == (120 * M, 1, "level 3 repeat 1")
    assert second.key != last.key
    assert next_repeat(planned[3], plan.notifications) is None  # level 1 stops when level 2 starts
    assert still_applies(s, "first_response", "reminder", due)
    answered = evaluate(plan, "business-critical", opened, [TicketEvent("responded", opened + M)], now=opened + M)
    assert not still_applies(answered, "first_response", "reminder", due)
    assert planned_notifications(answered, plan.notifications) == []
    late = evaluate(plan, "business-critical", opened, [], now=due + M)
    assert not still_applies(late, "first_response", "reminder", due)  # a reminder after its deadline is moot
    assert still_applies(late, "first_response", "escalation", due)


# -- property: resolution deadlines with pauses, against a minute-by-minute oracle ----------------


def _oracle_paused_deadline(cal, start: datetime, target_minutes: int, pauses: list[tuple[datetime, datetime]]) -> datetime:
    """Walk minute by minute, counting open minutes outside pauses, until the target is used up."""
    t, used = start, 0
    while used < target_minutes:
        if cal.is_open(t) and not any(b <= t < e for b, e in pauses):
            used += 1
        t += M
    return t


@hyp_settings(max_examples=60, deadline=None)
@given(
    start_offset=st.integers(0, 7 * 24 * 60),
    pause_specs=st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 2000)), max_size=3),
)
def test_paused_resolution_deadline_matches_oracle(policies: PolicySet, start_offset: int, pause_specs: list) -> None:
    """Gold sev1: 16 business hours (Mon-Fri 09-17 Berlin); pauses placed before the deadline move it by their open time."""
    plan = policies.plan("business-support-gold")
    cal = plan.targets_for("sev1").calendar
    opened = at("2026-11-30T00:00+01:00") + start_offset * M
    events, pauses, t = [], [], opened
    for gap, length in pause_specs:
        begin, end = t + gap * M, t + (gap + length) * M
        events += [TicketEvent("paused", begin), TicketEvent("resumed", end)]
        pauses.append((begin, end))
        t = end
    status = evaluate(plan, "sev1", opened, events, now=t + M)
    expected = _oracle_paused_deadline(cal, opened, 16 * 60, pauses)
    # The walk stops at the deadline, so a pause that starts after it does not move it, as in the engine.
    assert status.clocks["resolution"].due == expected
