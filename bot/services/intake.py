"""Intake: a reporter's draft becomes a ticket with its clocks and timers, within the plan's quota."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.logs import bind
from bot.metrics import Metrics
from bot.services.customers import CustomerServices
from rules.classification import suggest_severity
from rules.clock import Clock
from rules.notifications import planned_notifications
from rules.policy import Plan
from rules.quota import ContactCheck, QuotaCheck, case_counting_period, check_case_count, check_contact
from rules.sla import SlaStatus, evaluate
from rules.terms import Terms, snapshot
from storage.customers import contact_ids, lock_customer
from storage.models import Customer, Ticket, TicketEventRow
from storage.outbox import owe
from storage.tickets import TicketStore, count_openings
from storage.timers import timer_row

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportDraft:
    """Everything the reporter entered; nothing of it may be lost."""

    channel_id: str
    reporter_id: str
    summary: str
    description: str = ""
    service: str | None = None
    answers: dict[str, bool] = field(default_factory=dict)
    suggested_severity: str | None = None
    severity: str = ""
    override_reason: str | None = None
    priority: str | None = None
    idempotency_key: str | None = None
    source_message_ts: str | None = None
    source_permalink: str | None = None


@dataclass(frozen=True)
class OpenedTicket:
    ticket: Ticket
    created: bool  # False: the same submission was seen before
    plan: Plan
    customer: Customer | None
    status: SlaStatus
    quota: QuotaCheck
    contact: ContactCheck
    post_ids: list[int] = field(default_factory=list)  # owed posts (outbox rows): the announcement


class KeyedLocks:
    """One asyncio.Lock per key (a customer), forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def held(self, key: Hashable) -> bool:
        entry = self._locks.get(key)
        return entry is not None and entry[0].locked()


class IntakeServices(CustomerServices, TicketStore):
    """Opening tickets, a part of `bot.services.Services`: a channel's plan and customer (`CustomerServices`),
    the stored tickets and their clocks (`TicketStore`)."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    metrics: Metrics
    customer_locks: KeyedLocks

    def suggest(self, plan: Plan, answers: dict[str, bool]):
        return suggest_severity(plan, answers)

    async def open_ticket(self, draft: ReportDraft) -> OpenedTicket:
        """Store the ticket with its clocks; the same idempotency key returns the first ticket."""
        customer, plan = await self.plan_for_channel(draft.channel_id, contacts=False)
        plan.severity(draft.severity)
        if draft.priority is not None:
            plan.priority(draft.priority)
        if customer is None:  # no quota to count: nothing to serialize (the idempotency key is unique)
            opened = await self._open_ticket(draft, customer, plan)
        else:  # one customer's cases are counted one at a time (in this process; PostgreSQL adds a row lock across replicas)
            async with self.customer_locks.hold(customer.id):
                opened = await self._open_ticket(draft, customer, plan)
        bind(ticket=opened.ticket.key, channel_id=draft.channel_id)  # the rest of this request logs with them
        if opened.created:
            self.metrics.tickets_opened.labels(plan=plan.id, severity=draft.severity).inc()
            outside = "" if opened.ticket.within_plan else " (outside the plan)"
            log.info("%s opened: plan %s, severity %s%s", opened.ticket.key, plan.id, draft.severity, outside)
        return opened

    async def _open_ticket(self, draft: ReportDraft, customer: Customer | None, plan: Plan) -> OpenedTicket:
        now = self.clock.now()
        async with self.sessions() as s:
            # A repeated submission (same idempotency key) is caught by the unique index at the insert below.
            earlier = 0
            counting = case_counting_period(plan, now) if customer is not None else None
            if customer is not None and counting is not None:
                # Cases of one customer are counted one at a time, so two replicas cannot both take the last one.
                await lock_customer(s, customer.id)
                earlier = await count_openings(s, customer.id, counting.start, min(counting.end, now))
            quota = check_case_count(plan, now, earlier)
            contact = ContactCheck(True, "internal")
            if customer is not None:
                contacts: list[str] = []
                if plan.spec.limits.contacts.max is not None:  # only plans that name their contacts need them
                    contacts = await contact_ids(s, customer.id)
                contact = check_contact(plan, draft.reporter_id, contacts)
            notes = []
            if not contact.allowed:
                notes.append(contact.reason)
            if not quota.within_plan:
                notes.append(quota.describe())
            targets = plan.targets_for(draft.severity)
            terms = Terms(now, targets)  # frozen with the ticket: later policy edits apply to new tickets
            status = evaluate(plan, draft.severity, now, [], now=now, priority=draft.priority, terms=[terms])
            ticket = Ticket(
                idempotency_key=draft.idempotency_key,
                customer_id=customer.id if customer else None,
                plan_id=plan.id,
                reporter_id=draft.reporter_id,
                channel_id=draft.channel_id,
                announce_channel_id=(customer.triage_channel_id if customer and customer.triage_channel_id else draft.channel_id),
                source_message_ts=draft.source_message_ts,
                summary=draft.summary,
                description=draft.description,
                service=draft.service,
                severity=draft.severity,
                suggested_severity=draft.suggested_severity,
                applied_severity=targets.applied_severity,
                priority=draft.priority,
                state="open",
                opened_at=now,
                within_plan=contact.allowed and quota.within_plan,
                plan_note="; ".join(notes) or None,
                answers=draft.answers,
                sla_terms=[snapshot(terms)],
            )
            s.add(ticket)
            self._store_clocks(s, ticket, status, [])  # before the INSERT, so the ticket's place on the board is in it
            try:
                await s.flush()
            except IntegrityError:
                await s.rollback()  # the same submission raced us: return the stored one
                existing = await self._by_key(s, draft.idempotency_key or "")
                if existing is None:
                    raise
                return await self._opened(s, existing, plan, customer, created=False)
            by_reporter = {"ticket_id": ticket.id, "at": now, "actor_id": draft.reporter_id}
            s.add_all(
                [
                    TicketEventRow(kind="reported", data={"channel": draft.channel_id, "permalink": draft.source_permalink}, **by_reporter),
                    TicketEventRow(
                        kind="classified",
                        severity=draft.severity,
                        priority=draft.priority,
                        reason=draft.override_reason,
                        data={"suggested": draft.suggested_severity, "answers": draft.answers},
                        **by_reporter,
                    ),
                ]
            )
            # A new ticket has no timer rows yet: add what its clocks plan (no look-up, as sync_timers would do).
            s.add_all(timer_row(ticket.id, n) for n in planned_notifications(status, plan.notifications))
            announcement = owe(s, ticket.id, "announcement", now, channel_id=ticket.announce_channel_id)
            await s.commit()
            return OpenedTicket(ticket, True, plan, customer, status, quota, contact, [announcement.id])

    async def _opened(self, s: AsyncSession, ticket: Ticket, plan: Plan, customer: Customer | None, created: bool) -> OpenedTicket:
        status = await self.status_of(ticket)
        return OpenedTicket(ticket, created, plan, customer, status, QuotaCheck(ticket.within_plan, 0, None, None), ContactCheck(True, ""))
