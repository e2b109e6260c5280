"""Item 3 of issue 9: verdicts do not change when a policy file or holiday data changes.

A ticket keeps the targets and calendar in force when it was opened (and, after a
reclassification, those of the new severity from that moment); a stopped clock's
verdict is stored in `sla_clocks` and reports read it. The stored clock records
also answer "breached now" and "at risk now" as index range queries, and agree
with the status board at every instant.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.services import ReportDraft, build_services, record_action
from bot.services.reporting import build_period_report
from bot.settings import Settings
from bot.views.ticket import deadline_lines
from rules.board import Urgency, classify, watch
from rules.clock import ManualClock
from rules.clock_record import FrozenVerdict, at_risk_from, clock_records, frozen_verdicts
from rules.periods import parse_period
from rules.policy_load import load_policies, parse_policy
from rules.sla import ClockStatus, TicketEvent, evaluate
from rules.terms import Terms, restore, snapshot, terms_from_plan
from storage.db import upgrade
from storage.models import SlaClockRow, Ticket
from tests.helpers import eventually

UTC = timezone.utc
H, M = timedelta(hours=1), timedelta(minutes=1)
CHANNEL, REPORTER, RESPONDER = "C0ACME", "U0REPORTER", "U0RESPONDER"

POLICY_V1 = """
vendor: {id: acme, name: Acme Support, timezone: Europe/Berlin}
severities:
  - {id: high, name: High, definition: "Production is down."}
  - {id: low, name: Low, definition: "A question."}
calendars:
  always: {always_open: true}
  office: {timezone: Europe/Berlin, hours: {mon-fri: "09:00-17:00"}, holidays: {extra: [%(holiday)s]}}
plans:
  - id: acme-gold
    name: Gold
    calendar: always
    targets:
      high: {first_response: %(high_fr)s, update_interval: %(update)s, resolution: 8h}
      low: {first_response: 4h, resolution: 1d, calendar: office}
"""


def write_policy(folder: Path, high_fr: str = "1h", holiday: str = "2026-01-01", update: str = "2h") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "acme.yaml").write_text(POLICY_V1 % {"high_fr": high_fr, "holiday": holiday, "update": update})
    return folder


def make_services(url: str, policy_dir: Path, clock: ManualClock):
    settings = Settings(_env_file=None, database_url=url, default_plan="acme-gold", policy_dir=policy_dir)
    return build_services(settings, clock=clock, policies=load_policies(policy_dir))


async def started_services(url: str, policy_dir: Path, clock: ManualClock):
    """Services on a database upgraded to today's schema, as the bot starts."""
    services = make_services(url, policy_dir, clock)
    await upgrade(services.engine, policies=services.policies)
    return services


# -- through the services and the database ---------------------------------------------------


async def test_policy_edit_changes_neither_stopped_verdicts_nor_open_deadlines(database_url: str, tmp_path: Path) -> None:
    """A June ticket met under a 1h target stays met after the target becomes 30m; an open one keeps its deadline."""
    clock = ManualClock(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    v1 = write_policy(tmp_path / "v1")
    services = await started_services(database_url, v1, clock)
    met = (await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "Checkout down", severity="high"))).ticket
    clock.advance(45 * M)
    await record_action(services, met.id, "acknowledged", RESPONDER)  # 45m < 1h: met
    await record_action(services, met.id, "resolved", RESPONDER, reason="fixed")
    still_open = (await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "Search slow", severity="high"))).ticket
    await services.close()

    # November: the operator edits the target; the bot restarts with the new file
    clock.set(datetime(2026, 11, 10, 9, 0, tzinfo=UTC))
    v2 = write_policy(tmp_path / "v2", high_fr="30m")
    services = make_services(database_url, v2, clock)
    try:
        report, _ = await build_period_report(services, parse_period("2026-06", clock.now()), clock.now())
        assert (report.total.first_response.met, report.total.first_response.total) == (1, 2)  # met, and the open one breached
        verdicts = {o.verdicts[0].outcome for o in report.outcomes}
        assert verdicts == {"met", "breached"}
        status = await services.status_of(await services.get_ticket(still_open.id))
        assert status.clocks["first_response"].due == datetime(2026, 6, 10, 10, 45, tzinfo=UTC)  # opened 09:45 + 1h, not 30m
        # a new ticket gets the new policy
        fresh = await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "New", severity="high"))
        assert fresh.status.clocks["first_response"].due == clock.now() + 30 * M
        # the stored verdict is what reports read, even where a fresh evaluation would say otherwise
        async with services.sessions() as s:
            row = (
                await s.execute(select(SlaClockRow).where(SlaClockRow.ticket_id == met.id, SlaClockRow.clock == "first_response"))
            ).scalar_one()
            assert (row.status, row.verdict, row.stopped_at) == ("met", "met", datetime(2026, 6, 10, 9, 45, tzinfo=UTC))
    finally:
        await services.close()


async def test_a_tickets_message_shows_its_own_terms_after_a_policy_edit(database_url: str, tmp_path: Path) -> None:
    """The announcement's deadline lines come from the ticket's frozen terms, as its clocks do: after the update
    interval goes from 2h to 4h, an old ticket still says 2h (and is measured so); a new one says 4h."""
    clock = ManualClock(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    services = await started_services(database_url, write_policy(tmp_path / "v1"), clock)
    old = (await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "Checkout down", severity="high"))).ticket
    await services.close()

    services = make_services(database_url, write_policy(tmp_path / "v2", update="4h"), clock)
    try:
        status = await services.status_of(await services.get_ticket(old.id))
        assert "Updates every 120 min after the first response" in deadline_lines(status)
        clock.advance(10 * M)
        acked = await record_action(services, old.id, "acknowledged", RESPONDER)
        assert acked.status.clocks["update"].due == clock.now() + 2 * H  # measured by the same terms
        fresh = await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "New", severity="high"))
        assert "Updates every 240 min after the first response" in deadline_lines(fresh.status)
    finally:
        await services.close()


async def test_holiday_edit_applies_to_new_tickets_only(database_url: str, tmp_path: Path) -> None:
    """A holiday added after a ticket opened does not move its business-day deadline."""
    clock = ManualClock(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))  # Tue 11:00 Berlin
    services = await started_services(database_url, write_policy(tmp_path / "v1"), clock)
    opened = await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "Question", severity="low"))
    due = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # 1 business day (8h) later: Wed 11:00 Berlin
    assert opened.status.clocks["resolution"].due == due
    await services.close()

    services = make_services(database_url, write_policy(tmp_path / "v2", holiday="2026-12-02"), clock)
    try:
        status = await services.status_of(await services.get_ticket(opened.ticket.id))
        assert status.clocks["resolution"].due == due
        fresh = await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "Another", severity="low"))
        assert fresh.status.clocks["resolution"].due == datetime(2026, 12, 3, 10, 0, tzinfo=UTC)  # skips the new holiday
    finally:
        await services.close()


async def test_reclassification_freezes_the_new_severity_terms_from_that_moment(database_url: str, tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    services = await started_services(database_url, write_policy(tmp_path / "v1"), clock)
    t = (await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "x", severity="low"))).ticket
    await services.close()
    clock.advance(10 * M)
    services = make_services(database_url, write_policy(tmp_path / "v2", high_fr="30m"), clock)
    try:
        await record_action(services, t.id, "reclassified", RESPONDER, severity="high", reason="worse")
        ticket = await services.get_ticket(t.id)
        assert [d["severity"] for d in ticket.sla_terms] == ["low", "high"]
        assert [d["first_response_s"] for d in ticket.sla_terms] == [4 * 3600, 30 * 60]  # low as opened, high as of now
        status = await services.status_of(ticket)
        assert status.clocks["first_response"].due == datetime(2026, 6, 10, 9, 30, tzinfo=UTC)
        rows = {r.clock: r for r in ticket.clocks}
        assert rows["first_response"].due_at == datetime(2026, 6, 10, 9, 30, tzinfo=UTC)
    finally:
        await services.close()


async def test_clock_records_answer_breached_and_at_risk_by_range_query(database_url: str, tmp_path: Path) -> None:
    clock = ManualClock(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    services = await started_services(database_url, write_policy(tmp_path / "v1"), clock)
    try:
        t = (await services.open_ticket(ReportDraft(CHANNEL, REPORTER, "x", severity="high"))).ticket
        async with services.sessions() as s:
            rows = {r.clock: r for r in (await s.execute(select(SlaClockRow).where(SlaClockRow.ticket_id == t.id))).scalars()}
        fr = rows["first_response"]
        # 1h target: at risk under 30m left (the floor beats 25% = 15m)
        tick = timedelta(microseconds=1)
        assert (fr.status, fr.due_at, fr.at_risk_at) == ("running", clock.now() + H, clock.now() + 30 * M + tick)
        assert rows["update"].status == "none" and rows["resolution"].at_risk_at == clock.now() + 6 * H + tick  # 25% of 8h
        async with services.sessions() as s:  # the ticket's place on the board: its earliest running deadline and at-risk instant
            placed = (await s.execute(select(Ticket.earliest_due_at, Ticket.earliest_at_risk_at).where(Ticket.id == t.id))).one()
        assert placed == (fr.due_at, fr.at_risk_at)

        async def query(now: datetime) -> tuple[set[str], set[str]]:
            async with services.sessions() as s:
                breached = (
                    await s.execute(select(SlaClockRow.clock).where(SlaClockRow.status == "running", SlaClockRow.due_at < now))
                ).scalars()
                breached_set = set(breached)
                at_risk = (
                    await s.execute(
                        select(SlaClockRow.clock).where(
                            SlaClockRow.status == "running", SlaClockRow.at_risk_at <= now, SlaClockRow.due_at >= now
                        )
                    )
                ).scalars()
                return breached_set, set(at_risk)

        start = clock.now()
        assert await query(start + 29 * M) == (set(), set())
        assert await query(start + 31 * M) == (set(), {"first_response"})
        assert await query(start + 61 * M) == ({"first_response"}, set())
        clock.advance(20 * M)
        await record_action(services, t.id, "acknowledged", RESPONDER)
        assert await query(start + 61 * M) == (set(), set())
        async with services.sessions() as s:
            # the ticket's place on the board follows its running clocks: now the update clock's (2h from the acknowledgement)
            placed = select(Ticket.earliest_due_at, Ticket.earliest_at_risk_at).where(Ticket.id == t.id)
            assert (await s.execute(placed)).one() == (start + 20 * M + 2 * H, start + 20 * M + H + 30 * M + tick)
            plan_sql = select(SlaClockRow.status, SlaClockRow.verdict).where(
                SlaClockRow.ticket_id == t.id, SlaClockRow.clock == "first_response"
            )
            assert (await s.execute(plan_sql)).one() == ("met", "met")
    finally:
        await services.close()


async def test_migration_backfills_terms_and_clock_records(tmp_path: Path) -> None:
    """A database at the revision before, with a ticket in it, comes out with frozen terms and full records."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    clock = ManualClock(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    services = make_services(url, write_policy(tmp_path / "v1"), clock)
    try:
        await upgrade(services.engine, "0002")
        opened = datetime(2026, 6, 10, 8, 0, tzinfo=UTC)
        async with services.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "insert into tickets (id, plan_id, reporter_id, channel_id, summary, description, severity, state,"
                    " opened_at, within_plan, answers) values (1, 'acme-gold', 'U1', 'C1', 's', '', 'high', 'resolved',"
                    " :opened, 1, '{}')"
                ),
                {"opened": opened.replace(tzinfo=None)},
            )
            for kind, at, sev in (
                ("classified", opened, "high"),
                ("acknowledged", opened + 50 * M, None),
                ("resolved", opened + 2 * H, None),
            ):
                await conn.execute(
                    sa.text("insert into ticket_events (ticket_id, kind, at, severity, data) values (1, :k, :at, :sev, '{}')"),
                    {"k": kind, "at": at.replace(tzinfo=None), "sev": sev},
                )
            await conn.execute(
                sa.text("insert into sla_clocks (ticket_id, clock, status, due_at) values (1, 'first_response', 'met', :due)"),
                {"due": (opened + H).replace(tzinfo=None)},
            )
        await upgrade(services.engine, policies=services.policies)
        ticket = await services.get_ticket(1)
        assert ticket.sla_terms and ticket.sla_terms[0]["first_response_s"] == 3600
        rows = {r.clock: r for r in ticket.clocks}
        assert set(rows) == {"first_response", "update", "resolution"}
        assert (rows["first_response"].status, rows["first_response"].verdict) == ("met", "met")
        assert rows["first_response"].stopped_at == opened + 50 * M
        assert (rows["resolution"].verdict, rows["resolution"].due_at) == ("met", opened + 8 * H)
        assert rows["update"].verdict == "met" and rows["update"].periods[0]["due"] == (opened + 50 * M + 2 * H).isoformat()
    finally:
        await services.close()


# -- the engine: snapshots, stored verdicts, the at-risk instant -----------------------------

PRESETS = load_policies()


def test_snapshot_round_trip_is_the_same_targets_and_calendar() -> None:
    since = datetime(2026, 12, 20, 10, 0, tzinfo=UTC)
    for plan in PRESETS.plans.values():
        for sev in plan.severity_ids:
            original = plan.targets_for(sev)
            back = restore(snapshot(Terms(since, original))).targets
            assert back.first_response == original.first_response and back.resolution == original.resolution
            assert back.update_interval == original.update_interval and back.applied_severity == original.applied_severity
            for days in (0, 1, 3, 10, 40):
                at = since + timedelta(days=days, hours=days % 7)
                span = original.first_response or timedelta(hours=5)
                assert back.calendar.add(at, span) == original.calendar.add(at, span), (plan.id, sev, at)


def test_stored_verdicts_override_a_fresh_evaluation() -> None:
    plan = PRESETS.plan("commercetools-premium")
    opened = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    events = [TicketEvent("responded", opened + 10 * M), TicketEvent("resolved", opened + 3 * H)]
    status = evaluate(plan, "s1", opened, events, opened + 5 * H)
    stored = [FrozenVerdict(r.clock, r.status, r.due_at, r.stopped_at, r.periods) for r in clock_records(status)]
    # the same ticket re-scored under a changed engine or policy: a 5m first-response target
    tighter = parse_policy(POLICY_V1 % {"high_fr": "5m", "holiday": "2026-01-01", "update": "2h"}, "acme.yaml").plans["acme-gold"]
    rescored = evaluate(tighter, "high", opened, events, opened + 5 * H)
    assert rescored.clocks["first_response"].status is ClockStatus.MISSED
    kept = frozen_verdicts(rescored, stored)
    assert kept.clocks["first_response"].status is ClockStatus.MET
    assert kept.clocks["first_response"].due == status.clocks["first_response"].due


ZONES_PLANS = ["comarch-cci-basic", "comarch-cci-premium", "commercetools-premium", "business-support-gold"]


@settings(max_examples=60, deadline=None)
@given(
    plan_id=st.sampled_from(ZONES_PLANS),
    opened_minutes=st.integers(0, 60 * 24 * 60),
    respond_after=st.one_of(st.none(), st.integers(1, 60 * 24 * 5)),
    probes=st.lists(st.integers(0, 60 * 24 * 10), min_size=1, max_size=8),
)
def test_at_risk_instant_agrees_with_the_board(plan_id: str, opened_minutes: int, respond_after, probes) -> None:
    """For every running clock and instant: at risk or worse on the board iff the stored at-risk instant has come.

    Probes land on whole minutes and on the at-risk instant and the deadline themselves, and one tick either side."""
    plan = PRESETS.plan(plan_id)
    opened = datetime(2026, 9, 1, tzinfo=UTC) + timedelta(minutes=opened_minutes)
    sev = plan.severity_ids[0]
    events = [TicketEvent("responded", opened + timedelta(minutes=respond_after))] if respond_after else []
    terms = terms_from_plan(plan, sev, opened)
    write_at = opened + timedelta(minutes=respond_after or 0)
    status = evaluate(plan, sev, opened, events, write_at, terms=terms)
    for c in status.clocks.values():
        at_risk = at_risk_from(c)
        if at_risk is None:
            continue
        tick = timedelta(microseconds=1)
        edges = [at_risk - tick, at_risk, at_risk + tick, c.due - tick, c.due, c.due + tick]
        for now in [write_at + timedelta(minutes=p) for p in probes] + edges:
            if now < write_at:
                continue
            w = watch(c, now)
            assert w is not None
            board = classify(w.left, w.target)
            assert (board in (Urgency.AT_RISK, Urgency.BREACHED)) == (now >= at_risk), (c.name, now, at_risk)
            assert (board is Urgency.BREACHED) == (now > c.due)


async def test_the_update_form_suggests_the_tickets_own_interval_after_a_policy_edit(bot, tmp_path: Path) -> None:
    """The Post update form's "next update" default is the interval the ticket is measured by, not the edited plan's."""
    bot.services.policies = load_policies(write_policy(tmp_path / "v1"))
    bot.services.settings.responder_user_ids, bot.services.settings.default_plan = RESPONDER, "acme-gold"
    bot.slack.add_channel(CHANNEL, "acme")
    await bot.services.open_ticket(ReportDraft(CHANNEL, REPORTER, "Checkout down", severity="high"))
    bot.services.policies = load_policies(write_policy(tmp_path / "v2", update="4h"))  # the operator edits, the bot reloads
    n = len(bot.slack.calls_to("views.open"))
    r = await bot.sender.block_action("ticket_update", RESPONDER, value="INC-1", channel_id=CHANNEL, message_ts="1.000001")
    assert r.status == 200
    view = (await eventually(lambda: bot.slack.calls_to("views.open")[n:]))[0].params["view"]
    view = view if isinstance(view, dict) else json.loads(view)
    element = next(b for b in view["blocks"] if b.get("block_id") == "next")["element"]
    assert element["initial_option"]["value"] == "120"
