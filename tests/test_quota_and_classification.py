from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from rules.classification import suggest_severity
from rules.periods import quota_period
from rules.policy import PolicySet
from rules.quota import check_case_quota, check_contact


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_comarch_basic_ten_cases_per_quarter(policies: PolicySet) -> None:
    plan = policies.plan("comarch-cci-basic")
    earlier = [at("2026-10-01T09:00+02:00") + timedelta(days=i) for i in range(10)]
    eleventh = check_case_quota(plan, at("2026-12-31T12:00+01:00"), earlier)
    assert (eleventh.used, eleventh.limit, eleventh.within_plan) == (11, 10, False)
    assert eleventh.period.label == "2026-Q4"
    assert "outside the plan" in eleventh.describe()
    # 2026-12-31 23:30 UTC is already 1 January in Warsaw: a new quarter
    new_quarter = check_case_quota(plan, at("2026-12-31T23:30+00:00"), earlier)
    assert new_quarter.within_plan and new_quarter.used == 1 and new_quarter.period.label == "2027-Q1"


@pytest.mark.parametrize(
    ("plan_id", "limit"), [("business-support-professional", 1), ("business-support-enterprise", 2), ("business-support-gold", 4)]
)
def test_incidents_per_month(policies: PolicySet, plan_id: str, limit: int) -> None:
    plan = policies.plan(plan_id)
    earlier = [at("2026-11-02T10:00+01:00")] * limit + [at("2026-10-31T10:00+01:00")] * 5
    assert not check_case_quota(plan, at("2026-11-30T10:00+01:00"), earlier).within_plan
    assert check_case_quota(plan, at("2026-11-30T10:00+01:00"), earlier[: limit - 1]).within_plan
    period = quota_period(plan, at("2026-11-30T10:00+01:00"))
    assert (period.start, period.end) == (at("2026-11-01T00:00+01:00"), at("2026-12-01T00:00+01:00"))


def test_unlimited_plan(policies: PolicySet) -> None:
    q = check_case_quota(policies.plan("comarch-cci-premium"), at("2026-11-30T10:00+01:00"), [at("2026-11-30T09:00+01:00")] * 100)
    assert q.within_plan and q.limit is None


def test_contact_limits(policies: PolicySet) -> None:
    basic = policies.plan("comarch-cci-basic")
    assert check_contact(basic, "U1", ["U1"]).allowed
    refused = check_contact(basic, "U2", ["U1"])
    assert not refused.allowed and "1 named contact" in refused.reason
    assert check_contact(policies.plan("comarch-cci-premium"), "U2", []).allowed


@pytest.mark.parametrize(
    ("plan_id", "answers", "expected"),
    [
        ("business-support-gold", {"majority_affected": True, "workaround": False, "revenue_affected": True}, "sev1"),
        ("business-support-gold", {"majority_affected": True, "workaround": True, "revenue_affected": True}, "sev2"),
        ("business-support-gold", {"majority_affected": True, "workaround": True, "revenue_affected": False}, "sev3"),
        ("business-support-gold", {"majority_affected": False, "workaround": False}, "sev4"),
        ("comarch-cci-premium", {"question_only": False, "business_stopped": True}, "business-critical"),
        (
            "comarch-cci-premium",
            {"question_only": False, "business_stopped": False, "important_functions_degraded": True},
            "production-impaired",
        ),
        ("comarch-cci-premium", {"question_only": True}, "general-guidance"),
        ("comarch-cci-premium", {}, "system-impaired"),
        ("commercetools-premium", {"production_down": True}, "s1"),
        ("blancco-sp2", {"major_function_impaired": True}, "sev2"),
    ],
)
def test_classification_suggests_severity(policies: PolicySet, plan_id: str, answers: dict, expected: str) -> None:
    assert suggest_severity(policies.plan(plan_id), answers).severity.id == expected


def test_classification_rejects_unknown_question(policies: PolicySet) -> None:
    with pytest.raises(ValueError, match="unknown question"):
        suggest_severity(policies.plan("business-support-gold"), {"is_it_bad": True})
