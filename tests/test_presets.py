"""The seed plans as acceptance tables: every published number, and deadlines worked by hand.

Hand-worked deadlines cross weekends, public holidays (PL, DE) and the
2026-10-25 end of summer time in Europe.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rules.policy import PolicySet

H = 60  # minutes per hour
BD = 8 * H  # business-support: a business day is 8 business hours

# plan, severity -> (applied severity, first response, update interval, resolution) in minutes;
# "BE" = best effort, "SET" = operator-must-set placeholder, None = not published.
SEED_TABLE = {
    ("comarch-cci-basic", "business-critical"): ("system-impaired", 12 * H, None, None),
    ("comarch-cci-basic", "production-impaired"): ("system-impaired", 12 * H, None, None),
    ("comarch-cci-basic", "system-impaired"): ("system-impaired", 12 * H, None, None),
    ("comarch-cci-basic", "general-guidance"): ("general-guidance", 36 * H, None, None),
    ("comarch-cci-advanced", "business-critical"): ("production-impaired", 4 * H, None, None),
    ("comarch-cci-advanced", "production-impaired"): ("production-impaired", 4 * H, None, None),
    ("comarch-cci-advanced", "system-impaired"): ("system-impaired", 12 * H, None, None),
    ("comarch-cci-advanced", "general-guidance"): ("general-guidance", 24 * H, None, None),
    ("comarch-cci-premium", "business-critical"): ("business-critical", 30, None, None),
    ("comarch-cci-premium", "production-impaired"): ("production-impaired", 1 * H, None, None),
    ("comarch-cci-premium", "system-impaired"): ("system-impaired", 12 * H, None, None),
    ("comarch-cci-premium", "general-guidance"): ("general-guidance", 24 * H, None, None),
    ("commercetools-premium", "s1"): ("s1", 20, 30, None),
    ("commercetools-premium", "s2"): ("s2", 90, None, None),
    ("commercetools-premium", "s3"): ("s3", 6 * H, None, None),
    ("commercetools-premium", "s4"): ("s4", 24 * H, None, None),
    ("business-support-professional", "sev1"): ("sev4", 24 * H, None, "BE"),
    ("business-support-professional", "sev2"): ("sev4", 24 * H, None, "BE"),
    ("business-support-professional", "sev3"): ("sev4", 24 * H, None, "BE"),
    ("business-support-professional", "sev4"): ("sev4", 24 * H, None, "BE"),
    ("business-support-enterprise", "sev1"): ("sev1", 8 * H, None, 32 * H),
    ("business-support-enterprise", "sev2"): ("sev2", 16 * H, None, 7 * BD),
    ("business-support-enterprise", "sev3"): ("sev3", 24 * H, None, 14 * BD),
    ("business-support-enterprise", "sev4"): ("sev4", 24 * H, None, "BE"),
    ("business-support-gold", "sev1"): ("sev1", 8 * H, None, 16 * H),
    ("business-support-gold", "sev2"): ("sev2", 8 * H, None, 3 * BD),
    ("business-support-gold", "sev3"): ("sev3", 8 * H, None, 7 * BD),
    ("business-support-gold", "sev4"): ("sev4", 24 * H, None, "BE"),
    **{(f"blancco-{p}", f"sev{n}"): (f"sev{n}", "SET", None, "SET") for p in ("sp3", "sp2", "sp1", "spe") for n in range(1, 5)},
}


def _minutes(td: timedelta | None) -> int | None:
    return None if td is None else int(td.total_seconds() // 60)


def test_every_plan_and_severity_is_in_the_table(policies: PolicySet) -> None:
    shipped = {(p.id, s) for p in policies.plans.values() for s in p.severity_ids}
    assert shipped == set(SEED_TABLE)


@pytest.mark.parametrize(("plan_id", "severity"), sorted(SEED_TABLE))
def test_seed_targets(policies: PolicySet, plan_id: str, severity: str) -> None:
    applied, first, update, resolution = SEED_TABLE[(plan_id, severity)]
    t = policies.plan(plan_id).targets_for(severity)
    assert t.applied_severity == applied
    if first == "SET":
        assert t.placeholder and t.first_response is None and t.resolution is None
        return
    assert not t.placeholder
    assert _minutes(t.first_response) == first
    assert _minutes(t.update_interval) == update
    if resolution == "BE":
        assert t.resolution is None and t.resolution_best_effort
    else:
        assert _minutes(t.resolution) == resolution and not t.resolution_best_effort


@pytest.mark.parametrize(
    ("plan_id", "cases", "per", "contacts", "channels"),
    [
        ("comarch-cci-basic", 10, "quarter", 1, ["ticket"]),
        ("comarch-cci-advanced", None, None, 5, ["ticket", "phone"]),
        ("comarch-cci-premium", None, None, None, ["ticket", "phone", "chat"]),
        ("business-support-professional", 1, "month", None, ["email", "chat", "remote-assistance"]),
        ("business-support-enterprise", 2, "month", None, ["email", "chat", "remote-assistance"]),
        ("business-support-gold", 4, "month", None, ["email", "chat", "remote-assistance"]),
        ("blancco-sp3", None, None, None, ["portal", "email"]),
        ("blancco-sp2", None, None, None, ["phone", "portal", "email"]),
    ],
)
def test_seed_limits(policies: PolicySet, plan_id: str, cases, per, contacts, channels) -> None:
    limits = policies.plan(plan_id).spec.limits
    assert (limits.cases.max, limits.cases.per, limits.contacts.max) == (cases, per, contacts)
    assert limits.channels == channels


def test_comarch_advanced_needs_two_to_five_contacts(policies: PolicySet) -> None:
    c = policies.plan("comarch-cci-advanced").spec.limits.contacts
    assert (c.min, c.max) == (2, 5)


@pytest.mark.parametrize(
    ("plan_id", "calendar_by_severity", "tz"),
    [
        ("comarch-cci-basic", {"general-guidance": "business-hours"}, "Europe/Warsaw"),
        ("comarch-cci-premium", {"business-critical": "24-7"}, "Europe/Warsaw"),
        ("commercetools-premium", {"s1": "24-7", "s2": "24-7", "s3": "24-5", "s4": "24-5"}, "Europe/Berlin"),
        ("business-support-gold", {"sev1": "business-hours"}, "Europe/Berlin"),
        ("blancco-sp2", {"sev1": "business-hours"}, "Europe/Helsinki"),
        ("blancco-spe", {"sev1": "24-7"}, "Europe/Helsinki"),
    ],
)
def test_seed_calendars(policies: PolicySet, plan_id: str, calendar_by_severity: dict, tz: str) -> None:
    plan = policies.plan(plan_id)
    assert str(plan.timezone) == tz
    for sev, cal in calendar_by_severity.items():
        assert plan.targets_for(sev).calendar_id == cal


def test_severity_definitions_and_examples_are_shipped(policies: PolicySet) -> None:
    comarch = policies.plan("comarch-cci-premium")
    assert comarch.severity("business-critical").examples[0].startswith("A customer is unable to launch")
    assert "sporadic" in comarch.severity("production-impaired").examples[0]
    gold = policies.plan("business-support-gold")
    assert "NOT affecting revenue" in gold.severity("sev3").definition
    blancco = policies.plan("blancco-sp1")
    assert [p.id for p in blancco.priorities] == ["p1", "p2", "p3", "p4"]
    assert blancco.severity("sev1").request_via == ["phone"]
    for plan in policies.plans.values():
        for sev in plan.severities:
            assert sev.definition.strip()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# plan, severity, opened (local with offset) -> first response due, resolution due
HAND_WORKED = [
    # Basic: Fri 16:00 + 12 business hours (09-18) = Fri 2h, Mon 9h, Tue 1h
    ("comarch-cci-basic", "system-impaired", "2026-11-27T16:00+01:00", "2026-12-01T10:00+01:00", None),
    # Saturday start counts from Monday 09:00; 36 h = 4 business days, ending exactly at closing time Thu 18:00
    ("comarch-cci-basic", "general-guidance", "2026-11-28T12:00+01:00", "2026-12-03T18:00+01:00", None),
    # Wed 11 Nov is Polish Independence Day
    ("comarch-cci-basic", "system-impaired", "2026-11-10T17:00+01:00", "2026-11-13T11:00+01:00", None),
    # 24, 25, 26 Dec are Polish public holidays (Christmas Eve since 2025)
    ("comarch-cci-basic", "business-critical", "2026-12-23T17:00+01:00", "2026-12-29T11:00+01:00", None),
    # Across the end of summer time (Sun 25 Oct): Fri 3h in CEST, Mon 9h in CET
    ("comarch-cci-basic", "system-impaired", "2026-10-23T15:00+02:00", "2026-10-26T18:00+01:00", None),
    # Premium 24/7 across DST: 24 elapsed hours show as 11:00 on the wall clock
    ("comarch-cci-premium", "general-guidance", "2026-10-24T12:00+02:00", "2026-10-25T11:00+01:00", None),
    ("comarch-cci-premium", "business-critical", "2026-11-29T23:50+01:00", "2026-11-30T00:20+01:00", None),
    # commercetools S3: 24/5 in Berlin; Fri 22:00 has 2h left, Monday from 00:00
    ("commercetools-premium", "s3", "2026-11-27T22:00+01:00", "2026-11-30T04:00+01:00", None),
    # S4 on a Saturday: 24h of Monday ends at Monday 24:00
    ("commercetools-premium", "s4", "2026-11-28T10:00+01:00", "2026-12-01T00:00+01:00", None),
    # S3 over German Christmas (25, 26 Dec; 24 Dec is a working day in DE)
    ("commercetools-premium", "s3", "2026-12-24T21:00+01:00", "2026-12-28T03:00+01:00", None),
    # S1 and S2 are 24/7, weekends included
    ("commercetools-premium", "s1", "2026-11-28T03:00+01:00", "2026-11-28T03:20+01:00", None),
    ("commercetools-premium", "s2", "2026-11-28T23:00+01:00", "2026-11-29T00:30+01:00", None),
    # Gold sev1: 8 bh first response, 16 bh resolution (09-17 Berlin)
    ("business-support-gold", "sev1", "2026-11-30T10:00+01:00", "2026-12-01T10:00+01:00", "2026-12-02T10:00+01:00"),
    # Enterprise sev2 over Christmas and New Year: 16 bh and 7 business days
    ("business-support-enterprise", "sev2", "2026-12-23T16:00+01:00", "2026-12-28T16:00+01:00", "2027-01-05T16:00+01:00"),
    # Enterprise sev3: 14 business days from Monday 09:00 end at closing time on the 14th day
    ("business-support-enterprise", "sev3", "2026-11-30T09:00+01:00", "2026-12-02T17:00+01:00", "2026-12-17T17:00+01:00"),
    # Easter 2027 in Germany: Good Friday 26 Mar and Easter Monday 29 Mar; summer time from 28 Mar
    ("business-support-gold", "sev2", "2027-03-25T15:00+01:00", "2027-03-30T15:00+02:00", "2027-04-01T15:00+02:00"),
    # Professional publishes only sev4: a sev1 ticket gets 24 bh and best effort
    ("business-support-professional", "sev1", "2026-11-27T12:00+01:00", "2026-12-02T12:00+01:00", None),
]


@pytest.mark.parametrize(("plan_id", "severity", "opened", "first_due", "resolution_due"), HAND_WORKED)
def test_hand_worked_deadlines(policies, plan_id, severity, opened, first_due, resolution_due) -> None:
    from rules.sla import evaluate

    status = evaluate(policies.plan(plan_id), severity, _at(opened), [], now=_at(opened))
    assert status.clocks["first_response"].due == _at(first_due)
    res = status.clocks["resolution"].due
    assert res == (_at(resolution_due) if resolution_due else None)
    if first_due:
        # The engine returns UTC instants; the plan's zone is for display (`sla timeline` shows its offset).
        assert status.clocks["first_response"].due.utcoffset() == timedelta(0)


def test_policies_pickle_with_their_calendars_built(policies: PolicySet) -> None:
    """A big `/sla report` hands the loaded policies to a child process (bot.report_process)."""
    import pickle
    from datetime import date

    helsinki = policies.plan("blancco-sp2").policy.calendar("business-hours")  # built, with Finland's public holidays
    assert helsinki.is_holiday(date(2026, 12, 6)) and not helsinki.is_holiday(date(2026, 12, 7))  # Independence Day
    copy = pickle.loads(pickle.dumps(policies))
    again = copy.plan("blancco-sp2").policy.calendar("business-hours")
    assert again.is_holiday(date(2026, 12, 6)) and not again.is_holiday(date(2026, 12, 7))
    opened = datetime(2026, 12, 4, 15, 0, tzinfo=helsinki.tz)  # a Friday afternoon before the holiday weekend
    assert again.add(opened, timedelta(hours=4)) == helsinki.add(opened, timedelta(hours=4))
