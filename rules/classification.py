"""Suggesting a severity from a reporter's plain answers, per the policy's own rules."""

from __future__ import annotations

from dataclasses import dataclass

from rules.policy import Plan, Severity


@dataclass(frozen=True)
class Suggestion:
    severity: Severity
    matched_rule: int  # index in classification.rules


def suggest_severity(plan: Plan, answers: dict[str, bool]) -> Suggestion:
    """First rule whose conditions all hold; the last rule is the default.

    A condition on an unanswered question does not hold.
    """
    rules = plan.policy.file.classification.rules
    questions = {q.id for q in plan.policy.file.classification.questions}
    unknown = set(answers) - questions
    if unknown:
        raise ValueError(f"unknown question(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(questions))}")
    for i, rule in enumerate(rules):
        if all(q in answers and answers[q] == want for q, want in rule.when.items()):
            return Suggestion(plan.severity(rule.severity), i)
    # No classification block: the least urgent severity is the safe default.
    return Suggestion(plan.severities[-1], -1)
