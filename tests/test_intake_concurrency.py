"""Intake under load: the modal opens from memory, cases are serialized per customer (not process-wide),
and the quota is one COUNT over the counting period. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy import event, text

from bot.services import ReportDraft
from tests.helpers import CHANNEL, REPORTER, open_step1, setup_workspace

OTHER_CHANNEL = "C0OTHER01"


def draft(channel: str, key: str, severity: str = "sev4", priority: str | None = "p4") -> ReportDraft:
    return ReportDraft(channel_id=channel, reporter_id=REPORTER, summary=key, severity=severity, priority=priority, idempotency_key=key)


async def test_one_customer_does_not_wait_for_another(bot) -> None:
    """While one customer's case is being counted, another customer's ticket opens; the same customer's waits."""
    setup_workspace(bot)
    tiny = await bot.services.add_customer("Tiny", CHANNEL, "business-support-professional")
    await bot.services.add_customer("Other", OTHER_CHANNEL, "business-support-professional")
    async with bot.services.customer_locks.hold(tiny.id):
        same = asyncio.create_task(bot.services.open_ticket(draft(CHANNEL, "tiny-1")))
        other = await asyncio.wait_for(bot.services.open_ticket(draft(OTHER_CHANNEL, "other-1")), timeout=30)
        assert other.created and other.ticket.within_plan
        assert not same.done()  # blocked behind the held lock all along
    opened = await asyncio.wait_for(same, timeout=30)
    assert opened.created and opened.ticket.within_plan
    assert not bot.services.customer_locks.held(tiny.id)


async def test_quota_counts_only_the_counting_period(bot) -> None:
    """Professional allows one incident a month (Europe/Berlin): November's case does not count in December."""
    setup_workspace(bot)
    await bot.services.add_customer("Tiny", CHANNEL, "business-support-professional")
    first = await bot.services.open_ticket(draft(CHANNEL, "nov-1"))
    second = await bot.services.open_ticket(draft(CHANNEL, "nov-2"))
    assert (first.ticket.within_plan, second.ticket.within_plan) == (True, False)
    assert second.quota.describe() == "case 2 of 1 in 2026-11 (over quota: outside the plan)"
    bot.clock.set(datetime(2026, 11, 30, 23, 0, tzinfo=timezone.utc))  # 00:00 on 1 December in Berlin
    december = await bot.services.open_ticket(draft(CHANNEL, "dec-1"))
    assert december.ticket.within_plan and december.quota.describe() == "case 1 of 1 in 2026-12 (within plan)"
    bot.clock.advance(timedelta(minutes=1))
    assert not (await bot.services.open_ticket(draft(CHANNEL, "dec-2"))).ticket.within_plan


async def test_report_modal_opens_without_a_query(bot) -> None:
    """The trigger_id lasts 3 s: `/incident` opens the modal from the in-memory channel map, no SQL before it.

    (Once the modal is open, the bot keeps the reporter's draft: that write comes after views.open.)"""
    setup_workspace(bot)
    await open_step1(bot)  # the map is loaded once
    await bot.services.add_customer("Globex", CHANNEL, "business-support-gold")  # this process's change applies at once
    statements: list[tuple[str, int]] = []

    def record(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, len(bot.slack.calls_to("views.open"))))

    event.listen(bot.services.engine.sync_engine, "before_cursor_execute", record)
    try:
        await open_step1(bot)  # re-reads the map: this process added a customer
        statements.clear()
        opened_before = len(bot.slack.calls_to("views.open"))
        view = await open_step1(bot)
    finally:
        event.remove(bot.services.engine.sync_engine, "before_cursor_execute", record)
    assert [sql for sql, opened in statements if opened == opened_before] == []
    questions = [b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith("q:")]
    assert questions == ["q:majority_affected", "q:workaround", "q:revenue_affected"]  # Globex's plan, not the default


async def test_postgres_row_lock_is_per_customer(postgres_url: str) -> None:
    """Across replicas the count is guarded by the customer's row lock: another customer is not held up by it."""
    from bot.services import build_services
    from bot.settings import Settings
    from rules.clock import ManualClock
    from storage.db import upgrade

    services = build_services(
        Settings(_env_file=None, database_url=postgres_url), clock=ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc))
    )
    try:
        await upgrade(services.engine)
        tiny = await services.add_customer("Tiny", CHANNEL, "business-support-professional")
        await services.add_customer("Other", OTHER_CHANNEL, "business-support-professional")
        async with services.engine.connect() as other_replica:
            await other_replica.execute(text("SELECT id FROM customers WHERE id = :id FOR UPDATE"), {"id": tiny.id})
            same = asyncio.create_task(services.open_ticket(draft(CHANNEL, "tiny-1")))
            other = await asyncio.wait_for(services.open_ticket(draft(OTHER_CHANNEL, "other-1")), timeout=30)
            assert other.ticket.within_plan
            assert not same.done()  # waiting for the other replica's row lock
            await other_replica.rollback()
        assert (await asyncio.wait_for(same, timeout=30)).ticket.within_plan
    finally:
        await services.close()


async def test_reports_without_a_customer_take_no_lock(bot) -> None:
    """A channel with no customer has no quota: its reports open side by side, never behind a lock."""
    setup_workspace(bot)
    opened = await asyncio.gather(*(bot.services.open_ticket(draft(OTHER_CHANNEL, f"k{i}", "system-impaired", "p2")) for i in range(5)))
    assert sorted(o.ticket.id for o in opened) == [1, 2, 3, 4, 5]
    assert bot.services.customer_locks._locks == {}
