"""The `triage-bot` command as people and scripts run it: a real process, real exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
    )


def test_timeline_json_for_scripts() -> None:
    r = run("sla", "timeline", "--plan", "commercetools-premium", "--severity", "s1", "--opened-at", "2026-11-28T03:00:00+01:00", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["plan"] == "commercetools-premium" and data["severity"] == "s1" and data["applied_severity"] == "s1"
    assert data["first_response_due"] == "2026-11-28T03:20:00+01:00"
    assert data["resolution_due"] is None
    assert data["update_interval_minutes"] == 30
    assert [r["label"] for r in data["reminders"]] == ["50%", "75%", "90%"]
    assert [e["level"] for e in data["escalations"]] == [1, 2, 3]


def test_timeline_reports_applied_severity() -> None:
    r = run(
        "sla",
        "timeline",
        "--plan",
        "comarch-cci-basic",
        "--severity",
        "business-critical",
        "--opened-at",
        "2026-11-27T16:00:00+01:00",
        "--json",
    )
    data = json.loads(r.stdout)
    assert data["applied_severity"] == "system-impaired"
    assert data["first_response_due"] == "2026-12-01T10:00:00+01:00"
    assert any("publishes no target for business-critical" in w for w in data["warnings"])


def test_timeline_human_output() -> None:
    r = run("sla", "timeline", "--plan", "business-support-enterprise", "--severity", "sev2", "--opened-at", "2026-12-23T15:00:00Z")
    assert r.returncode == 0, r.stderr
    assert "first response due  Mon 2026-12-28 16:00 CET" in r.stdout
    assert "resolution due      Tue 2027-01-05 16:00 CET" in r.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plan", "gold", "--severity", "sev1"], "unknown plan 'gold'; valid: blancco-sp1,"),
        (
            ["--plan", "business-support-gold", "--severity", "s1"],
            "unknown severity 's1' in plan business-support-gold; valid: sev1, sev2, sev3, sev4",
        ),
    ],
)
def test_unknown_ids_exit_2_listing_valid_ids(args: list[str], message: str) -> None:
    r = run("sla", "timeline", *args, "--opened-at", "2026-11-30T10:00:00+01:00", "--json")
    assert r.returncode == 2
    assert message in r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr


def test_naive_or_bad_instant_is_refused() -> None:
    r = run("sla", "timeline", "--plan", "business-support-gold", "--severity", "sev1", "--opened-at", "2026-11-30T10:00")
    assert r.returncode == 2 and "needs a UTC offset" in r.stderr
    r = run("sla", "timeline", "--plan", "business-support-gold", "--severity", "sev1", "--opened-at", "tomorrow")
    assert r.returncode == 2 and "not an ISO 8601 instant" in r.stderr


def test_policies_table_and_json() -> None:
    r = run("policies")
    assert r.returncode == 0
    assert "comarch-cci-basic" in r.stdout and "SET ME" in r.stdout
    data = json.loads(run("policies", "--json").stdout)
    gold = next(p for p in data if p["plan"] == "business-support-gold")
    assert gold["cases"] == {"max": 4, "per": "month"}
    sev2 = next(t for t in gold["targets"] if t["severity"] == "sev2")
    assert (sev2["first_response_minutes"], sev2["resolution_minutes"]) == (480, 3 * 8 * 60)


def test_broken_policy_folder_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("vendor: {id: x, name: X, timezone: Mars/Olympus}\n")
    r = run("policies", env={"POLICY_DIR": str(tmp_path)})
    assert r.returncode == 2
    assert "mine.yaml: invalid policy" in r.stderr and "vendor.timezone: unknown time zone 'Mars/Olympus'" in r.stderr
    assert "Traceback" not in r.stderr


def test_plain_database_urls_get_the_async_driver(tmp_path: Path) -> None:
    from storage.db import async_url

    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"
    r = run("db", "upgrade", env={"DATABASE_URL": f"sqlite:///{tmp_path}/plain.db"})
    assert r.returncode == 0 and "database at revision" in r.stdout
