"""A bad policy file is refused at load, naming the file, the plan and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rules.errors import PolicyError
from rules.policy_load import load_policies, load_policy_file

GOOD = {
    "vendor": {"id": "acme", "name": "Acme", "timezone": "Europe/Berlin"},
    "severities": [
        {"id": "high", "name": "High", "definition": "Down."},
        {"id": "low", "name": "Low", "definition": "Question."},
    ],
    "calendars": {
        "office": {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}, "holidays": {"country": "DE"}},
        "always": {"always_open": True},
    },
    "plans": [{"id": "acme-gold", "name": "Gold", "calendar": "office", "targets": {"high": {"first_response": "4h"}}}],
}


def write(tmp_path: Path, data: dict, name: str = "acme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def mutate(path_keys: list, value) -> dict:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    node = data
    for key in path_keys[:-1]:
        node = node[key]
    node[path_keys[-1]] = value
    return data


def refused(tmp_path: Path, data: dict) -> str:
    path = write(tmp_path, data)
    with pytest.raises(PolicyError) as err:
        load_policy_file(path)
    message = str(err.value)
    assert str(path) in message
    return message


def test_good_file_loads(tmp_path: Path) -> None:
    policy = load_policy_file(write(tmp_path, GOOD))
    assert list(policy.plans) == ["acme-gold"]


@pytest.mark.parametrize(
    ("keys", "value", "expected"),
    [
        (
            ["plans", 0, "targets"],
            {"medium": {"first_response": "1h"}},
            "plan 'acme-gold': targets.medium: unknown severity 'medium' (valid: high, low)",
        ),
        (["plans", 0, "targets"], {"high": {"first_response": "-30m"}}, "plan 'acme-gold': targets.high.first_response"),
        (["plans", 0, "targets"], {"high": {"first_response": "soon"}}, "not a duration: 'soon'"),
        (
            ["plans", 0, "targets"],
            {"high": {"resolution": "0m"}},
            "plan 'acme-gold': targets.high.resolution: a target must be longer than zero",
        ),
        (["plans", 0, "calendar"], "weekends", "plan 'acme-gold': calendar: unknown calendar 'weekends' (valid: always, office)"),
        (
            ["plans", 0, "targets"],
            {"high": {"first_response": "1h", "calender": "office"}},
            "plan 'acme-gold': targets.high.calender: unknown field",
        ),
        (["calendars", "office", "timezone"], "Europe/Warszawa", "calendars.office.timezone: unknown time zone 'Europe/Warszawa'"),
        (["calendars", "office", "holidays", "country"], "XX", "calendars.office.holidays.country: unknown holiday country 'XX'"),
        (["calendars", "office", "hours"], {"mon-fri": ["09:00-13:00", "12:00-17:00"]}, "overlapping opening hours on mon"),
        (["calendars", "office", "hours"], {"mon-fri": "17:00-09:00"}, "end before they start"),
        (["calendars", "office", "hours"], {"funday": "09:00-17:00"}, "unknown weekday 'funday'"),
        (["plans", 0, "limits"], {"cases": {"max": 10}}, "plan 'acme-gold': limits.cases: Value error, cases needs both max and per"),
        (["plans", 0, "limits"], {"cases": {"max": 10, "per": "fortnight"}}, "plan 'acme-gold': limits.cases.per"),
    ],
)
def test_bad_field_is_named(tmp_path: Path, keys: list, value, expected: str) -> None:
    message = refused(tmp_path, mutate(keys, value)).replace("Value error, ", "")
    assert expected.replace("Value error, ", "") in message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("vendor:\n  id: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"broken.yaml: invalid policy\n  - not valid YAML at line \d+"):
        load_policy_file(path)


def test_all_problems_are_listed_at_once(tmp_path: Path) -> None:
    data = mutate(["plans", 0, "targets"], {"nope": {"first_response": "1h"}, "high": {"first_response": "1h", "calendar": "x"}})
    message = refused(tmp_path, data)
    assert "targets.nope: unknown severity" in message
    assert "targets.high.calendar: unknown calendar 'x'" in message


def test_operator_file_replaces_preset_of_same_vendor(tmp_path: Path) -> None:
    """Setting Blancco's placeholder targets: copy the preset, fill the figures in."""
    from rules.policy_load import PRESETS_DIR

    data = yaml.safe_load((PRESETS_DIR / "blancco.yaml").read_text())
    for plan in data["plans"]:
        plan["targets"] = {"sev1": {"first_response": "2h", "resolution": "2d"}}
    write(tmp_path, data, "blancco.yaml")
    policies = load_policies(tmp_path)
    targets = policies.plan("blancco-sp2").targets_for("sev2")
    assert targets.applied_severity is None and not targets.placeholder
    assert policies.plan("blancco-sp2").targets_for("sev1").first_response.total_seconds() == 7200
    assert "comarch-cci-basic" in policies.plans


def test_plan_id_clash_between_files_is_refused(tmp_path: Path) -> None:
    data = mutate(["plans", 0, "id"], "comarch-cci-basic")
    write(tmp_path, data)
    with pytest.raises(PolicyError, match="plan id 'comarch-cci-basic' is defined in both"):
        load_policies(tmp_path)


def test_missing_policy_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="does not exist"):
        load_policies(tmp_path / "nope")


@pytest.mark.parametrize(
    ("keys", "value", "expected"),
    [
        (["plans", 0, "id"], "acme-" + "g" * 250, "id 'acme-ggggggggggggggg'... is 255 characters; at most 64"),
        (["severities", 0, "id"], "High Severity", "severity 'High Severity': id: id 'High Severity': use lower-case letters"),
        (
            ["classification"],
            {"questions": [{"id": "q" * 254, "text": "Down?"}], "rules": [{"severity": "low"}]},
            "classification.questions[0].id: id 'qqqqqqqqqqqqqqqqqqqq'... is 254 characters; at most 64",
        ),
        (
            ["priorities"],
            [{"id": "p" * 151, "name": "P", "definition": "x"}],
            "id: id 'pppppppppppppppppppp'... is 151 characters; at most 64",
        ),
        (["vendor", "id"], "<!channel>", "vendor.id: id '<!channel>': use lower-case letters"),
    ],
)
def test_ids_fit_slack_limits_by_design(tmp_path: Path, keys: list, value, expected: str) -> None:
    """Ids become block ids (`q:<id>`, at most 255) and option values (at most 150): checked at load, with file and field."""
    assert expected in refused(tmp_path, mutate(keys, value))


def test_problems_of_different_kinds_are_reported_together(tmp_path: Path) -> None:
    """A bad field and a bad cross-reference in one file: one report, not one round per kind."""
    data = mutate(["plans", 0, "calendar"], "weekends")
    data["severities"][1]["id"] = "Low!"
    data["calendars"]["office"]["timezone"] = "Mars/Olympus"
    data["plans"].append({"id": "acme-silver", "name": "Silver", "calendar": "office", "targets": {"medium": {"first_response": "1h"}}})
    data["plans"].append({"id": "acme-bronze", "name": "Bronze", "calendar": "always", "targets": {"high": {"first_response": "soon"}}})
    message = refused(tmp_path, data)
    for expected in (
        "severity 'Low!': id: id 'Low!'",
        "calendars.office.timezone: unknown time zone 'Mars/Olympus'",
        "plan 'acme-bronze': targets.high.first_response",
        "plan 'acme-gold': calendar: unknown calendar 'weekends'",
        "plan 'acme-silver': targets.medium: unknown severity 'medium'",
    ):
        assert expected in message, message
    assert "unknown calendar 'office'" not in message  # already said: its time zone is wrong
