"""Reading support policies: the presets and the operator's files (the only disk read in rules/),
parsed against `rules.policy_file`, every problem reported at once, and cross-checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from rules.calendar import BusinessCalendar
from rules.durations import Duration
from rules.errors import PolicyError
from rules.policy import Policy, PolicySet, build_calendar
from rules.policy_file import BEST_EFFORT, CalendarSpec, Notifications, PolicyFile

PRESETS_DIR = Path(__file__).parent / "presets"


def _locate(loc: tuple[Any, ...], raw: Any) -> str:
    """Turn a pydantic location into `plan 'x': targets.s1.first_response`."""
    parts: list[str] = []
    node = raw
    prefix = ""
    for i, key in enumerate(loc):
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            node = None
        if isinstance(key, int) and i > 0 and loc[i - 1] in ("plans", "severities", "priorities") and isinstance(node, dict):
            label = {"plans": "plan", "severities": "severity", "priorities": "priority"}[loc[i - 1]]
            ident = node.get("id", f"#{key + 1}")
            parts.pop()
            prefix = f"{label} {ident!r}: "
            parts = []
            continue
        parts.append(str(key) if not isinstance(key, int) else f"[{key}]")
    return prefix + ".".join(parts).replace(".[", "[")


def _cross_check(f: PolicyFile) -> list[str]:
    problems: list[str] = []
    sev_ids = [s.id for s in f.severities]
    pri_ids = [p.id for p in f.priorities]
    for kind, ids in (("severity", sev_ids), ("priority", pri_ids)):
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            problems.append(f"duplicate {kind} ids: {', '.join(sorted(dupes))}")
    plan_ids = [p.id for p in f.plans]
    for dupe in sorted({i for i in plan_ids if plan_ids.count(i) > 1}):
        problems.append(f"duplicate plan id {dupe!r}")
    cal_ids = list(f.calendars)

    for cal_id, cal in f.calendars.items():
        if cal.business_day is not None and cal.business_day == Duration():
            problems.append(f"calendars.{cal_id}.business_day: must be longer than zero (it is what 1d means in targets)")
            continue
        if not cal.always_open and cal.business_day is None:
            calendar = build_calendar(cal_id, cal)
            if isinstance(calendar, BusinessCalendar) and calendar.open_time_per_day() is None:
                problems.append(f"calendars.{cal_id}: days differ in length; set business_day (e.g. 8h)")

    def check_notifications(n: Notifications, where: str) -> None:
        levels = [e.level for e in n.escalation]
        if levels != sorted(set(levels)):
            problems.append(f"{where}notifications.escalation: levels must be unique and ascending, got {levels}")

    check_notifications(f.notifications, "")
    questions = {q.id for q in f.classification.questions}
    for i, rule in enumerate(f.classification.rules):
        if rule.severity not in sev_ids:
            problems.append(f"classification.rules[{i}].severity: unknown severity {rule.severity!r} (valid: {', '.join(sev_ids)})")
        for q in rule.when:
            if q not in questions:
                problems.append(f"classification.rules[{i}].when: unknown question {q!r} (valid: {', '.join(sorted(questions))})")
    if f.classification.questions and (not f.classification.rules or f.classification.rules[-1].when):
        problems.append("classification.rules: the last rule must have no `when` (the default severity)")

    for plan in f.plans:
        where = f"plan {plan.id!r}: "
        if plan.calendar not in cal_ids:
            problems.append(f"{where}calendar: unknown calendar {plan.calendar!r} (valid: {', '.join(cal_ids)})")
        if plan.timezone is not None:
            try:
                CalendarSpec._known_tz(plan.timezone)
            except ValueError as e:
                problems.append(f"{where}timezone: {e}")
        for sev, target in plan.targets.items():
            if sev not in sev_ids:
                problems.append(f"{where}targets.{sev}: unknown severity {sev!r} (valid: {', '.join(sev_ids)})")
            if target.calendar is not None and target.calendar not in cal_ids:
                problems.append(f"{where}targets.{sev}.calendar: unknown calendar {target.calendar!r} (valid: {', '.join(cal_ids)})")
            for field in ("first_response", "update_interval"):
                if getattr(target, field) == BEST_EFFORT:
                    problems.append(f"{where}targets.{sev}.{field}: best-effort is only for resolution")
            for field in ("first_response", "update_interval", "resolution"):
                v = getattr(target, field)
                if isinstance(v, Duration) and v == Duration():
                    problems.append(f"{where}targets.{sev}.{field}: a target must be longer than zero")
        if plan.notifications is not None:
            check_notifications(plan.notifications, where)
    return problems


def parse_policy(text: str, source: str) -> Policy:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise PolicyError(source, [f"not valid YAML{at}: {getattr(e, 'problem', e)}"]) from None
    if not isinstance(raw, dict):
        raise PolicyError(source, ["the file must be a mapping with vendor, severities, calendars and plans"])
    problems: list[str] = []
    file: PolicyFile | None = None
    data = raw
    removed: list[object] = []  # the failing items left out, to leave out their cross-check problems too
    # Every problem at once: the fields that fail are reported, then left out so the rest (and the
    # cross-checks between sections) can still be checked, instead of reporting in rounds.
    for _ in range(20):
        try:
            file = PolicyFile.model_validate(data)
            break
        except ValidationError as e:
            # After leaving items out, a list may be empty: that is ours, not the operator's.
            errors = [err for err in e.errors() if not (removed and err["type"] == "too_short")]
            for err in errors:
                msg = err["msg"].removeprefix("Value error, ")
                loc = _locate(tuple(err["loc"]), data)
                if err["type"] == "extra_forbidden":
                    msg = "unknown field (check the spelling)"
                problems.append(f"{loc}: {msg}" if loc else msg)
            data, gone = _without(data, [tuple(err["loc"]) for err in errors])
            if not gone:
                break
            removed += gone
    if file is not None:
        # A cross-check about something already reported (an item left out) would only repeat it.
        problems += [p for p in _cross_check(file) if not any(repr(r) in p for r in removed)]
    if problems:
        raise PolicyError(source, list(dict.fromkeys(problems)))
    return Policy(file, source)  # type: ignore[arg-type]


def _without(raw: Any, locs: list[tuple]) -> tuple[Any, list[str]]:
    """A copy of the raw file without the smallest items holding the failing fields.

    An item is an element of a list (a severity, a plan, a reminder) or an entry of a named mapping
    (a calendar, a plan's target). Returns the copy and the ids (or keys) of what was left out.
    """
    import copy

    data = copy.deepcopy(raw)
    cuts: dict[tuple[int, Any], tuple[Any, Any]] = {}
    for loc in locs:
        node: Any = data
        cut: tuple[Any, Any] | None = None
        parent: Any = None
        for key in loc:
            if isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
                cut = (node, key)
            elif isinstance(node, dict) and key in node and parent in ("calendars", "targets"):
                cut = (node, key)
            elif not (isinstance(node, dict) and key in node):
                break
            parent, node = key, node[key]
        if cut is not None:
            cuts[(id(cut[0]), cut[1])] = cut
    gone: list[str] = []
    for holder, key in cuts.values():
        item = holder[key]
        gone.append(str(item["id"]) if isinstance(item, dict) and isinstance(item.get("id"), str) else str(key))
        holder[key] = _CUT
    for holder, _key in cuts.values():
        if isinstance(holder, list):
            holder[:] = [x for x in holder if x is not _CUT]
        else:
            for k in [k for k, v in holder.items() if v is _CUT]:
                del holder[k]
    return data, gone


_CUT = object()


def load_policy_file(path: Path) -> Policy:
    """One file; a file that cannot be read at all is refused like a bad one, naming it and what to do."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise PolicyError(str(path), [f"a link to {path.readlink()}, which does not exist: fix or remove the link"])
    if path.is_dir():
        raise PolicyError(str(path), ["a folder, not a policy file: rename it or move it out of POLICY_DIR"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise PolicyError(str(path), [f"not UTF-8 text (byte {e.start}): save it as UTF-8"]) from None
    except OSError as e:
        raise PolicyError(str(path), [f"cannot be read: {e.strerror or e}"]) from None
    return parse_policy(text, str(path))


def load_policies(extra_dir: Path | None = None, include_presets: bool = True) -> PolicySet:
    """Presets, then the operator's own files (`*.yaml`/`*.yml` in `extra_dir`)."""
    by_vendor: dict[str, Policy] = {}
    files: list[Path] = []
    if include_presets:
        files += sorted(PRESETS_DIR.glob("*.yaml"))
    if extra_dir is not None:
        extra_dir = Path(extra_dir)
        if not extra_dir.is_dir():
            raise PolicyError(str(extra_dir), ["policy folder does not exist or is not a folder"])
        files += sorted([*extra_dir.glob("*.yaml"), *extra_dir.glob("*.yml")])
    refused: list[PolicyError] = []
    for path in files:
        try:
            policy = load_policy_file(path)
        except PolicyError as e:
            refused.append(e)  # every bad file at once, not one per start
            continue
        by_vendor[policy.file.vendor.id] = policy  # later (operator) files win
    if len(refused) == 1:
        raise refused[0]
    if refused:
        raise PolicyError(str(extra_dir), [f"{e.source}: {p}" for e in refused for p in e.problems])
    return PolicySet(list(by_vendor.values()))
