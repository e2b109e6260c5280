"""Item 6 of issue 9 (all but the action verbs): policies printed as the contract says, classification that
never under-classifies, and a zero business day refused at load."""

from __future__ import annotations

import itertools

import pytest

from bot.text import policies_data
from rules.classification import suggest_severity
from rules.durations import Duration, contract_text
from rules.errors import PolicyError
from rules.policy_load import load_policies, parse_policy

PRESETS = load_policies()


@pytest.mark.parametrize(
    ("plan_id", "severity", "field", "expected"),
    [
        ("business-support-enterprise", "sev2", "resolution_text", "7 business days"),  # was "2d 8h"
        ("business-support-gold", "sev2", "resolution_text", "3 business days"),  # was "1d"
        ("business-support-gold", "sev2", "first_response_text", "8 business hours"),
        ("comarch-cci-basic", "general-guidance", "first_response_text", "36 business hours"),
        ("comarch-cci-basic", "business-critical", "first_response_text", "12 business hours"),
        ("comarch-cci-premium", "business-critical", "first_response_text", "30m"),  # 24/7: elapsed time
        ("commercetools-premium", "s1", "update_interval_text", "30m"),
        ("commercetools-premium", "s3", "first_response_text", "6 business hours"),  # 24/5
        ("blancco-sp3", "sev1", "first_response_text", "SET ME"),
    ],
)
def test_policies_print_targets_as_the_contract_states_them(plan_id, severity, field, expected) -> None:
    plan = next(p for p in policies_data(PRESETS) if p["plan"] == plan_id)
    row = next(r for r in plan["targets"] if r["severity"] == severity)
    assert row[field] == expected


def test_contract_text() -> None:
    assert contract_text(Duration(days=1), True) == "1 business day"
    assert contract_text(Duration(days=2, minutes=90), True) == "2 business days 1 hour 30 minutes"
    assert contract_text(Duration(minutes=45), True) == "45 business minutes"
    assert contract_text(Duration(days=2), False) == "2d"


# Conflicting answers: the more urgent suggestion wins, in every preset.
CONFLICTS = [
    ("comarch-cci-premium", {"question_only": True, "business_stopped": True, "important_functions_degraded": False}, "business-critical"),
    (
        "comarch-cci-premium",
        {"question_only": True, "business_stopped": False, "important_functions_degraded": True},
        "production-impaired",
    ),
    ("comarch-cci-premium", {"question_only": False, "business_stopped": True, "important_functions_degraded": True}, "business-critical"),
    ("commercetools-premium", {"question_only": True, "production_down": True, "production_affected": False}, "s1"),
    ("commercetools-premium", {"question_only": True, "production_down": False, "production_affected": True}, "s2"),
    ("blancco-sp2", {"question_only": True, "production_down": True, "major_function_impaired": False}, "sev1"),
    ("blancco-sp2", {"question_only": True, "production_down": False, "major_function_impaired": True}, "sev2"),
    ("business-support-gold", {"majority_affected": True, "workaround": False, "revenue_affected": True}, "sev1"),
    # not a conflict: severities 1-3 need the majority of users affected (the published definitions)
    ("business-support-gold", {"majority_affected": False, "workaround": False, "revenue_affected": True}, "sev4"),
]


@pytest.mark.parametrize(("plan_id", "answers", "expected"), CONFLICTS)
def test_conflicting_answers_never_under_classify(plan_id, answers, expected) -> None:
    assert suggest_severity(PRESETS.plan(plan_id), answers).severity.id == expected


@pytest.mark.parametrize("plan_id", sorted({p.policy.file.vendor.id: p.id for p in PRESETS.plans.values()}.values()))
def test_no_answer_combination_suggests_less_urgent_than_a_rule_it_matches(plan_id) -> None:
    plan = PRESETS.plan(plan_id)
    file = plan.policy.file.classification
    ids = plan.severity_ids
    for values in itertools.product([True, False], repeat=len(file.questions)):
        answers = dict(zip((q.id for q in file.questions), values))
        got = ids.index(suggest_severity(plan, answers).severity.id)
        for rule in file.rules:
            if rule.when and all(answers[q] == want for q, want in rule.when.items()):
                assert got <= ids.index(rule.severity), (answers, rule)


def test_zero_business_day_is_refused_with_file_and_field() -> None:
    text = """
vendor: {id: acme, name: Acme, timezone: Europe/Berlin}
severities: [{id: high, name: High, definition: "down"}]
calendars:
  office: {timezone: Europe/Berlin, hours: {mon-fri: "09:00-17:00"}, business_day: 0m}
plans:
  - {id: acme-gold, name: Gold, calendar: office, targets: {high: {first_response: 2d}}}
"""
    with pytest.raises(PolicyError) as e:
        parse_policy(text, "acme.yaml")
    assert "acme.yaml: invalid policy" in str(e.value)
    assert "calendars.office.business_day: must be longer than zero" in str(e.value)
