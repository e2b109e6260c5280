"""Reports read each ticket's status from its stored clock records (`sla_clocks`) instead of replaying its events.

The oracle is the replay (`load_tickets(..., replay=True)`: `rules.sla.evaluate` over the event log, with the
stored verdicts laid over it). On a varied set of tickets (two calendars, acknowledgements, updates with and
without a stated next-update time, pauses, resolutions, reopens, reclassifications), at several instants
after the last change, both give the same report: figures, breaches, trend, JSON, CSV and every verdict.
Only tickets the records cannot answer exactly (paused ones) are replayed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import storage.reporting
from bot.exports import report_csv, report_dict
from bot.services import ReportDraft, record_action
from rules.clock import ManualClock
from rules.compliance import build_report, totals
from rules.errors import Conflict, InvalidInput
from rules.periods import parse_period
from storage.db import upgrade
from storage.models import Ticket
from storage.reporting import load_tickets, period_totals
from tests.test_frozen_verdicts import CHANNEL, REPORTER, RESPONDER, make_services, write_policy

UTC = timezone.utc
M = timedelta(minutes=1)


async def _varied(services, clock: ManualClock, rng: random.Random, n: int) -> None:
    ids: list[int] = []
    for _ in range(6 * n):
        clock.advance(rng.choice([0, 1, 7, 20, 45, 90, 200, 600]) * M)
        if len(ids) < n and (not ids or rng.random() < 0.3):
            severity = rng.choice(["high", "high", "low"])
            ids.append((await services.open_ticket(ReportDraft(CHANNEL, REPORTER, f"t{len(ids)}", severity=severity))).ticket.id)
            continue
        kind = rng.choice(["acknowledged", "updated", "updated", "paused", "resumed", "resolved", "reopened", "reclassified"])
        extra: dict = {}
        if kind == "updated" and rng.random() < 0.5:
            extra["next_update_at"] = clock.now() + rng.choice([30, 90, 300]) * M
        if kind == "reclassified":
            extra["severity"] = rng.choice(["high", "low"])
        if kind in ("paused", "resolved", "reclassified"):
            extra["reason"] = "because"
        try:
            await record_action(services, rng.choice(ids), kind, RESPONDER, **extra)
        except (Conflict, InvalidInput):
            pass


async def _prompt_updates(services, clock: ManualClock) -> None:
    """A ticket whose updates come in time, then one late: update periods met and missed (7 hours)."""
    ticket_id = (await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "prompt", severity="high"))).ticket.id
    await record_action(services, ticket_id, "acknowledged", RESPONDER)
    for minutes in (30, 90, 100, 200):  # the plan asks for one every 2 hours
        clock.advance(minutes * M)
        await record_action(services, ticket_id, "updated", RESPONDER)


async def test_reports_from_clock_records_equal_the_replay(database_url: str, tmp_path: Path, monkeypatch) -> None:
    clock = ManualClock(datetime(2026, 6, 1, 0, 0, tzinfo=UTC))  # the prompt ticket's 7 hours, then the varied ones from 07:00
    services = make_services(database_url, write_policy(tmp_path / "p"), clock)
    try:
        await upgrade(services.engine, policies=services.policies)
        await _prompt_updates(services, clock)
        await _varied(services, clock, random.Random(10), 60)
        replayed: list[int] = []
        original = storage.reporting.status_from_rows

        def counted(plan, ticket, *args, **kwargs):  # type: ignore[no-untyped-def]
            replayed.append(ticket.id)
            return original(plan, ticket, *args, **kwargs)

        monkeypatch.setattr(storage.reporting, "status_from_rows", counted)
        async with services.sessions() as s:
            paused = set((await s.execute(Ticket.__table__.select().where(Ticket.state == "paused"))).scalars())
        period = parse_period("2026-06", clock.now())
        kinds: set[str] = set()
        for later in (0, 25, 24 * 60, 9 * 24 * 60):
            now = clock.now() + later * M
            replayed.clear()
            fast = await load_tickets(services, now)
            assert set(replayed) == paused  # the others were read from their records
            slow = await load_tickets(services, now, replay=True)
            assert [t.key for t in fast.tickets] == [t.key for t in slow.tickets] and len(fast.tickets) == 61
            for f, s_ in zip(fast.tickets, slow.tickets):
                assert (f.severity, f.opened_at, f.status.resolved_at, f.state) == (
                    s_.severity,
                    s_.opened_at,
                    s_.status.resolved_at,
                    s_.state,
                )
            a = build_report(fast.tickets, period, now, services.policies.plans)
            b = build_report(slow.tickets, period, now, services.policies.plans)
            assert a.outcomes == b.outcomes
            assert report_dict(a) == report_dict(b)
            assert report_csv(a) == report_csv(b)
            assert await period_totals(services, period, now) == totals(b)  # the App Home's line, in SQL
            assert 0 < totals(b).update.met < totals(b).update.total
            kinds |= {v.outcome for o in b.outcomes for v in o.verdicts}
        assert {"met", "missed", "breached", "running", "paused", "no_target", "not_started"} <= kinds  # the data set is varied enough
    finally:
        await services.close()


async def test_migration_0014_counts_the_stored_update_periods(database_url: str, tmp_path: Path) -> None:
    """A database from before the period counts (0013) gets them from each update clock's stored periods:
    the App Home's month line is then the replay's figures, as for tickets written since."""
    from alembic import command

    from storage.db import _alembic_config

    clock = ManualClock(datetime(2026, 6, 1, 7, 0, tzinfo=UTC))
    services = make_services(database_url, write_policy(tmp_path / "p"), clock)
    try:
        await upgrade(services.engine, policies=services.policies)
        await _prompt_updates(services, clock)
        await _varied(services, clock, random.Random(12), 40)
        async with services.engine.begin() as conn:
            await conn.run_sync(lambda c: command.downgrade(_alembic_config(c), "0013_tickets_earliest_due"))
        await upgrade(services.engine, policies=services.policies)
        period = parse_period("2026-06", clock.now())
        now = clock.now() + 25 * M
        slow = await load_tickets(services, now, replay=True)
        expected = totals(build_report(slow.tickets, period, now, services.policies.plans))
        assert 0 < expected.update.met < expected.update.total  # periods met and missed to count
        assert await period_totals(services, period, now) == expected
    finally:
        await services.close()
