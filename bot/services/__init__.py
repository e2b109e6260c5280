"""Application services: what handlers and the CLI call. Slack-free, so tests and scripts share them.

Orchestration only; queries live in storage/, decisions in rules/. One module per domain:

- intake: `ReportDraft` -> `open_ticket` (quota, contact check, clocks, timers)
- tickets: `record_action`, a responder's action on a ticket
- customers: channels -> customers and plans, contacts
- oncall: who answers each escalation role
- reporting: the period report

`Services` is the composition: settings, database sessions, policies and the
clock, with the domain methods mixed in: `IntakeServices` builds on `CustomerServices`
and the ticket queries (`storage.tickets.TicketStore`), `CustomerServices` on the
customer queries (`storage.customers.CustomerStore`); drafts from `storage.drafts`.
Each part declares what it uses, so mypy checks it. `build_services` makes one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.metrics import Metrics
from bot.services.intake import IntakeServices, KeyedLocks, OpenedTicket, ReportDraft
from bot.services.tickets import ActionResult, record_action
from bot.settings import Settings
from rules.clock import Clock, SystemClock
from rules.policy import PolicySet
from rules.policy_load import load_policies
from storage.db import create_engine, session_factory
from storage.drafts import DraftStore

__all__ = ["ActionResult", "OpenedTicket", "ReportDraft", "Services", "build_services", "record_action"]


@dataclass
class Services(IntakeServices, DraftStore):
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    policies: PolicySet
    clock: Clock
    metrics: Metrics = field(default_factory=Metrics, repr=False)  # this app's own registry
    # One customer's tickets are opened one at a time in this process (SQLite has no row locks; PostgreSQL adds one).
    customer_locks: KeyedLocks = field(default_factory=KeyedLocks, repr=False)
    # `/sla report`s run in a child process (bot.report_process), one at a time: a 50,000-ticket one peaks
    # at about 230 MB, and a second at once would only split the same cores.
    report_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1), repr=False)
    # Channel -> plan id of every customer, so a report modal opens before any database work (bot.services.customers).
    _channel_plans: dict[str, str] | None = field(default=None, repr=False)
    _channel_plans_at: float = field(default=0.0, repr=False)
    _channel_plans_refresh: asyncio.Task | None = field(default=None, repr=False)

    async def close(self) -> None:
        await self.engine.dispose()


def build_services(
    settings: Settings, clock: Clock | None = None, policies: PolicySet | None = None, *, statement_timeout: float | None = None
) -> Services:
    """`statement_timeout`: the serving bot's bound on one statement (`run`); the command line waits as long as it takes."""
    engine = create_engine(settings.database_url, statement_timeout=statement_timeout)
    return Services(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        policies=policies or load_policies(settings.policy_dir),
        clock=clock or SystemClock(),
    )
