"""Application services: what handlers and the CLI call. Slack-free, so tests and scripts share them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.settings import Settings
from rules.classification import suggest_severity
from rules.clock import Clock, SystemClock
from rules.policy import Plan, PolicySet, UnknownIdError, load_policies
from rules.quota import ContactCheck, QuotaCheck, check_case_quota, check_contact
from rules.sla import Notification, SlaStatus, TicketEvent, evaluate, planned_notifications, still_applies
from storage.db import create_engine, session_factory
from storage.models import Contact, Customer, ProcessedSlackEvent, SlaClockRow, SlaTimer, Ticket, TicketEventRow

# Stored event kinds -> the rules engine's kinds (others are audit only).
_ENGINE_KIND = {
    "acknowledged": "responded",
    "updated": "updated",
    "paused": "paused",
    "resumed": "resumed",
    "resolved": "resolved",
    "reopened": "reopened",
    "reclassified": "reclassified",
    "escalation_acknowledged": "escalation_acknowledged",
}


class ServiceError(ValueError):
    """A user-facing problem: the message is shown as is."""


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


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    policies: PolicySet
    clock: Clock
    # Opening tickets is serialized in this process (SQLite has no row locks; PostgreSQL adds one per customer).
    _open_lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def close(self) -> None:
        await self.engine.dispose()

    # -- customers -------------------------------------------------------------------
    async def customer_for_channel(self, channel_id: str) -> Customer | None:
        async with self.sessions() as s:
            return (
                await s.execute(
                    select(Customer)
                    .where((Customer.channel_id == channel_id) | (Customer.triage_channel_id == channel_id))
                    .options(selectinload(Customer.contacts))
                )
            ).scalar_one_or_none()

    async def plan_for_channel(self, channel_id: str) -> tuple[Customer | None, Plan]:
        customer = await self.customer_for_channel(channel_id)
        plan_id = customer.plan_id if customer else self.settings.default_plan
        try:
            return customer, self.policies.plan(plan_id)
        except UnknownIdError as e:
            raise ServiceError(f"This channel's plan is not loaded: {e}") from None

    async def add_customer(
        self, name: str, channel_id: str, plan_id: str, triage_channel_id: str | None = None
    ) -> Customer:
        name = name.strip()
        if not name:
            raise ServiceError("a customer needs a name")
        try:
            self.policies.plan(plan_id)
        except UnknownIdError as e:
            raise ServiceError(str(e)) from None
        async with self.sessions() as s:
            existing = (
                await s.execute(select(Customer).where((Customer.name == name) | (Customer.channel_id == channel_id)))
            ).scalars().first()
            if existing is not None:
                if existing.name == name:
                    raise ServiceError(f"a customer named {name!r} already exists (channel {existing.channel_id})")
                raise ServiceError(f"channel {channel_id} already belongs to customer {existing.name!r}")
            customer = Customer(
                name=name,
                channel_id=channel_id,
                plan_id=plan_id,
                triage_channel_id=triage_channel_id,
                created_at=self.clock.now(),
            )
            s.add(customer)
            await s.commit()
            return customer

    async def list_customers(self) -> list[Customer]:
        async with self.sessions() as s:
            rows = await s.execute(select(Customer).options(selectinload(Customer.contacts)).order_by(Customer.name))
            return list(rows.scalars())

    async def add_contact(self, customer_name: str, slack_user_id: str, primary: bool = False) -> Contact:
        async with self.sessions() as s:
            customer = (
                await s.execute(
                    select(Customer).where(Customer.name == customer_name).options(selectinload(Customer.contacts))
                )
            ).scalar_one_or_none()
            if customer is None:
                names = (await s.execute(select(Customer.name).order_by(Customer.name))).scalars().all()
                raise ServiceError(f"no customer named {customer_name!r}; known: {', '.join(names) or '(none)'}")
            if any(c.slack_user_id == slack_user_id for c in customer.contacts):
                raise ServiceError(f"{slack_user_id} is already a contact of {customer_name}")
            plan = self.policies.plan(customer.plan_id)
            limit = plan.spec.limits.contacts.max
            if limit is not None and len(customer.contacts) >= limit:
                raise ServiceError(
                    f"{customer_name} is on {plan.spec.name}, which allows {limit} named contact(s); "
                    f"remove one first (current: {', '.join(c.slack_user_id for c in customer.contacts)})"
                )
            contact = Contact(customer_id=customer.id, slack_user_id=slack_user_id, primary=primary)
            s.add(contact)
            await s.commit()
            return contact

    # -- intake -----------------------------------------------------------------------
    async def first_time_event(self, event_id: str) -> bool:
        """Record a Slack event id; False when it was already handled (a Slack retry)."""
        async with self.sessions() as s:
            s.add(ProcessedSlackEvent(event_id=event_id, received_at=self.clock.now()))
            try:
                await s.commit()
            except IntegrityError:
                return False
            return True

    def suggest(self, plan: Plan, answers: dict[str, bool]):
        return suggest_severity(plan, answers)

    async def open_ticket(self, draft: ReportDraft) -> OpenedTicket:
        """Store the ticket with its clocks; the same idempotency key returns the first ticket."""
        customer, plan = await self.plan_for_channel(draft.channel_id)
        plan.severity(draft.severity)
        if draft.priority is not None:
            plan.priority(draft.priority)
        async with self._open_lock:
            return await self._open_ticket(draft, customer, plan)

    async def _open_ticket(self, draft: ReportDraft, customer: Customer | None, plan: Plan) -> OpenedTicket:
        now = self.clock.now()
        async with self.sessions() as s:
            if draft.idempotency_key:
                existing = await self._by_key(s, draft.idempotency_key)
                if existing is not None:
                    return await self._opened(s, existing, plan, customer, created=False)
            earlier: list[datetime] = []
            if customer is not None:
                if s.bind.dialect.name == "postgresql":
                    # Cases of one customer are counted one at a time, so two replicas cannot both take the last one.
                    await s.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
                earlier = list(
                    (await s.execute(select(Ticket.opened_at).where(Ticket.customer_id == customer.id))).scalars()
                )
            quota = check_case_quota(plan, now, earlier)
            contacts = [c.slack_user_id for c in customer.contacts] if customer else []
            contact = check_contact(plan, draft.reporter_id, contacts) if customer else ContactCheck(True, "internal")
            notes = []
            if not contact.allowed:
                notes.append(contact.reason)
            if not quota.within_plan:
                notes.append(quota.describe())
            targets = plan.targets_for(draft.severity)
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
            )
            s.add(ticket)
            try:
                await s.flush()
            except IntegrityError:
                await s.rollback()  # the same submission raced us: return the stored one
                existing = await self._by_key(s, draft.idempotency_key or "")
                if existing is None:
                    raise
                return await self._opened(s, existing, plan, customer, created=False)
            s.add(
                TicketEventRow(
                    ticket_id=ticket.id,
                    kind="reported",
                    at=now,
                    actor_id=draft.reporter_id,
                    data={"channel": draft.channel_id, "permalink": draft.source_permalink},
                )
            )
            s.add(
                TicketEventRow(
                    ticket_id=ticket.id,
                    kind="classified",
                    at=now,
                    actor_id=draft.reporter_id,
                    severity=draft.severity,
                    priority=draft.priority,
                    reason=draft.override_reason,
                    data={"suggested": draft.suggested_severity, "answers": draft.answers},
                )
            )
            status = evaluate(plan, ticket.severity, now, [], now=now, priority=ticket.priority)
            self._store_clocks(s, ticket, status, [])
            await sync_timers(s, ticket.id, status, plan)
            await s.commit()
            return OpenedTicket(ticket, True, plan, customer, status, quota, contact)

    async def _by_key(self, s: AsyncSession, key: str) -> Ticket | None:
        return (await s.execute(select(Ticket).where(Ticket.idempotency_key == key))).scalar_one_or_none()

    async def _opened(
        self, s: AsyncSession, ticket: Ticket, plan: Plan, customer: Customer | None, created: bool
    ) -> OpenedTicket:
        status = await self.status_of(ticket)
        return OpenedTicket(
            ticket, created, plan, customer, status, QuotaCheck(ticket.within_plan, 0, None, None), ContactCheck(True, "")
        )

    async def set_announcement(self, ticket_id: int, channel_id: str, ts: str) -> None:
        async with self.sessions() as s:
            ticket = await s.get(Ticket, ticket_id)
            if ticket is None:
                raise ServiceError(f"no ticket INC-{ticket_id}")
            ticket.announce_channel_id, ticket.thread_ts = channel_id, ts
            await s.commit()

    async def ticket_by_thread(self, channel_id: str, thread_ts: str) -> Ticket | None:
        async with self.sessions() as s:
            return (
                await s.execute(select(Ticket).where(Ticket.announce_channel_id == channel_id, Ticket.thread_ts == thread_ts))
            ).scalar_one_or_none()

    async def get_ticket(self, key: str | int) -> Ticket:
        ticket_id = _ticket_number(key)
        async with self.sessions() as s:
            ticket = (
                await s.execute(
                    select(Ticket).where(Ticket.id == ticket_id).options(selectinload(Ticket.events), selectinload(Ticket.clocks))
                )
            ).scalar_one_or_none()
            if ticket is None:
                raise ServiceError(f"no ticket INC-{ticket_id}")
            return ticket

    async def status_of(self, ticket: Ticket, now: datetime | None = None) -> SlaStatus:
        plan = self.policies.plan(ticket.plan_id)
        async with self.sessions() as s:
            rows = (
                await s.execute(select(TicketEventRow).where(TicketEventRow.ticket_id == ticket.id).order_by(TicketEventRow.id))
            ).scalars().all()
        return evaluate_ticket(plan, ticket, rows, now or self.clock.now())

    def _store_clocks(self, s: AsyncSession, ticket: Ticket, status: SlaStatus, existing: list[SlaClockRow]) -> None:
        by_name = {c.clock: c for c in existing}
        for name, clock in status.clocks.items():
            row = by_name.get(name) or SlaClockRow(ticket_id=ticket.id, clock=name)
            row.status = clock.status.value
            row.target_minutes = int(clock.target.total_seconds() // 60) if clock.target is not None else None
            row.due_at = clock.due
            row.stopped_at = clock.stopped_at
            if name not in by_name:
                s.add(row)


@dataclass(frozen=True)
class ActionResult:
    ticket: Ticket
    status: SlaStatus
    plan: Plan
    event: TicketEventRow


# action -> states it is allowed in
_ALLOWED_IN = {
    "acknowledged": {"open", "paused"},
    "updated": {"open", "paused"},
    "reclassified": {"open", "paused"},
    "paused": {"open"},
    "resumed": {"paused"},
    "resolved": {"open", "paused"},
    "reopened": {"resolved"},
    "assigned": {"open", "paused"},
    "escalation_acknowledged": {"open", "paused"},
}


async def record_action(
    services: "Services",
    key: str | int,
    kind: str,
    actor_id: str,
    *,
    severity: str | None = None,
    priority: str | None = None,
    reason: str | None = None,
    next_update_at: datetime | None = None,
    data: dict[str, Any] | None = None,
) -> ActionResult:
    """Append one responder action to a ticket's log and bring its clocks up to date."""
    if kind not in _ALLOWED_IN:
        raise ServiceError(f"unknown action {kind!r}")
    now = services.clock.now()
    ticket_id = _ticket_number(key)
    async with services.sessions() as s:
        query = select(Ticket).where(Ticket.id == ticket_id).options(selectinload(Ticket.events), selectinload(Ticket.clocks))
        if s.bind.dialect.name == "postgresql":
            query = query.with_for_update(of=Ticket)  # two responders clicking at once: one after the other
        ticket = (await s.execute(query)).scalar_one_or_none()
        if ticket is None:
            raise ServiceError(f"no ticket INC-{ticket_id}")
        if ticket.state not in _ALLOWED_IN[kind]:
            raise ServiceError(f"{ticket.key} is {ticket.state}: cannot {kind.removesuffix('ed').removesuffix('e')} it now")
        plan = services.policies.plan(ticket.plan_id)
        if kind == "reclassified":
            if not (reason or "").strip():
                raise ServiceError("a reclassification needs a reason")
            if severity is None and priority is None:
                raise ServiceError("choose a new severity or priority")
            try:
                if severity is not None:
                    plan.severity(severity)
                if priority is not None:
                    plan.priority(priority)
            except UnknownIdError as e:
                raise ServiceError(str(e)) from None
            if severity == ticket.severity and priority in (None, ticket.priority):
                raise ServiceError(f"{ticket.key} already has that severity and priority")
        if kind == "assigned" and not (data or {}).get("assignee"):
            raise ServiceError("say who to assign it to")
        if kind == "updated" and next_update_at is not None and next_update_at <= now:
            raise ServiceError("the next update must be in the future")
        event = TicketEventRow(
            ticket_id=ticket.id,
            kind=kind,
            at=now,
            actor_id=actor_id,
            severity=severity if kind == "reclassified" else None,
            priority=priority if kind == "reclassified" else None,
            reason=reason,
            next_update_at=next_update_at,
            data=data or {},
        )
        s.add(event)
        ticket.events.append(event)
        if kind in ("acknowledged", "updated", "resolved") and ticket.first_response_at is None:
            ticket.first_response_at = now
        if kind == "reclassified":
            if severity is not None and severity != ticket.severity:
                ticket.severity = severity
                ticket.applied_severity = plan.targets_for(severity).applied_severity
            if priority is not None:
                ticket.priority = priority
        elif kind == "assigned":
            ticket.assignee_id = (data or {})["assignee"]
        elif kind == "paused":
            ticket.state = "paused"
        elif kind in ("resumed", "reopened"):
            ticket.state = "open"
            if kind == "reopened":
                ticket.resolved_at = None
        elif kind == "resolved":
            ticket.state, ticket.resolved_at = "resolved", now
        status = evaluate_ticket(plan, ticket, ticket.events, now)
        services._store_clocks(s, ticket, status, list(ticket.clocks))
        await sync_timers(s, ticket.id, status, plan)
        await s.commit()
        return ActionResult(ticket, status, plan, event)


async def sync_timers(s: AsyncSession, ticket_id: int, status: SlaStatus, plan: Plan) -> None:
    """Bring a ticket's timer rows in line with its clocks, in the same transaction as the change.

    Pending rows that no longer apply are dropped at once; planned ones not yet
    stored are added (a key that was ever stored is never stored again, so a
    sent reminder is never planned twice).
    """
    rows = (await s.execute(select(SlaTimer).where(SlaTimer.ticket_id == ticket_id))).scalars().all()
    known = {r.key for r in rows}
    for r in rows:
        if r.state == "pending" and not still_applies(status, r.clock, r.kind, r.deadline):  # type: ignore[arg-type]
            r.state, r.error = "dropped", "moot: the clock changed"
    for n in planned_notifications(status, plan.notifications):
        if n.key not in known:
            s.add(timer_row(ticket_id, n))


def timer_row(ticket_id: int, n: Notification) -> SlaTimer:
    return SlaTimer(
        ticket_id=ticket_id,
        key=n.key,
        clock=n.clock,
        kind=n.kind,
        level=n.level,
        notify=n.notify,
        label=n.label,
        repeat=n.repeat,
        deadline=n.due,
        due_at=n.at,
        run_at=n.at,
        state="pending",
        attempts=0,
        late=False,
    )


def evaluate_ticket(plan: Plan, ticket: Ticket, rows: Sequence[TicketEventRow], now: datetime) -> SlaStatus:
    """A stored ticket's clocks: its first classification, then its event log, at `now`."""
    first_severity = next((r.severity for r in rows if r.kind == "classified" and r.severity), ticket.severity)
    return evaluate(plan, first_severity, ticket.opened_at, engine_events(rows), now, ticket.priority)


def engine_events(rows: Sequence[TicketEventRow]) -> list[TicketEvent]:
    out = []
    for r in rows:
        kind = _ENGINE_KIND.get(r.kind)
        if kind is None:
            continue
        out.append(
            TicketEvent(
                kind=kind,  # type: ignore[arg-type]
                at=r.at,
                severity=r.severity,
                next_update_at=r.next_update_at,
                clock=(r.data or {}).get("clock"),
            )
        )
    return out


def _ticket_number(key: str | int) -> int:
    if isinstance(key, int):
        return key
    text = key.strip().upper().removeprefix("INC-")
    if not text.isdigit():
        raise ServiceError(f"{key!r} is not a ticket id (like INC-42)")
    return int(text)


def build_services(settings: Settings, clock: Clock | None = None, policies: PolicySet | None = None) -> Services:
    engine = create_engine(settings.database_url)
    return Services(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        policies=policies or load_policies(settings.policy_dir),
        clock=clock or SystemClock(),
    )

