"""Suggesting a severity from a reporter's plain answers, per the policy's own rules."""

from __future__ import annotations

from dataclasses import dataclass

from rules.policy import Plan, Severity


@dataclass(frozen=True)
class Suggestion:
    severity: Severity
    matched_rule: int  # index in classification.rules


def suggest_severity(plan: Plan, answers: dict[str, bool]) -> Suggestion:
    """The most urgent severity among the rules whose conditions all hold; the last rule is the default.

    Conflicting answers never under-classify: "just a question" and "business
    stopped" both answered yes suggest the business-critical severity, not the
    question's. A condition on an unanswered question does not hold.
    """
    rules = plan.policy.file.classification.rules
    questions = {q.id for q in plan.policy.file.classification.questions}
    unknown = set(answers) - questions
    if unknown:
        raise ValueError(f"unknown question(s) {', '.join(sorted(unknown))}; valid: {', '.join(sorted(questions))}")
    order = plan.severity_ids  # most urgent first
    matched = [
        (order.index(rule.severity), i)
        for i, rule in enumerate(rules)
        if rule.when and all(q in answers and answers[q] == want for q, want in rule.when.items())
    ]
    if matched:
        _rank, i = min(matched)
        return Suggestion(plan.severity(rules[i].severity), i)
    for i, rule in enumerate(rules):
        if not rule.when:  # the default
            return Suggestion(plan.severity(rule.severity), i)
    # No classification block: the least urgent severity is the safe default.
    return Suggestion(plan.severities[-1], -1)
