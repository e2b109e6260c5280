"""Customers: which plan a channel is on, adding customers and their named contacts."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from rules.clock import Clock
from rules.errors import ConfigError, Conflict, InvalidInput, NotFound, UnknownIdError
from rules.policy import Plan, PolicySet
from storage.customers import (
    CustomerStore,
    channel_plan_rows,
    customer_by_name_or_channel,
    customer_named,
    customer_on_channel,
    ticket_count,
)
from storage.models import Contact, Customer

log = logging.getLogger(__name__)

# How old the in-memory channel -> plan map may get before it is re-read (in the background) for
# customers added by another process (the shell, another replica); this process's own changes apply at once.
CHANNEL_PLANS_TTL = 30.0


class CustomerServices(CustomerStore):
    """Customers and contacts, a part of `bot.services.Services` (over the stored customers, `CustomerStore`)."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    policies: PolicySet
    clock: Clock
    _channel_plans: dict[str, str] | None
    _channel_plans_at: float
    _channel_plans_refresh: asyncio.Task | None

    async def load_channel_plans(self) -> dict[str, str]:
        """Read every customer's channels and plan into memory (a few hundred rows at most)."""
        rows = await channel_plan_rows(self)
        plans: dict[str, str] = {}
        for channel_id, triage_channel_id, plan_id in rows:
            plans[channel_id] = plan_id
        for channel_id, triage_channel_id, plan_id in rows:
            if triage_channel_id:
                plans.setdefault(triage_channel_id, plan_id)
        self._channel_plans, self._channel_plans_at = plans, time.monotonic()
        return plans

    async def modal_plan(self, channel_id: str) -> Plan:
        """The plan whose questions a new report's modal asks, from memory: the trigger_id expires in 3 s,
        so the modal opens before any database work. The map is loaded at start and re-read in the
        background once older than CHANNEL_PLANS_TTL; the ticket itself reads the customer afresh."""
        plans = self._channel_plans
        if plans is None:
            plans = await self.load_channel_plans()
        elif time.monotonic() - self._channel_plans_at > CHANNEL_PLANS_TTL and self._channel_plans_refresh is None:
            self._channel_plans_refresh = asyncio.create_task(self._refresh_channel_plans())
        try:
            return self.policies.plan(plans.get(channel_id, self.settings.default_plan))
        except UnknownIdError as e:
            raise ConfigError(f"This channel's plan is not loaded: {e}") from None

    async def _refresh_channel_plans(self) -> None:
        try:
            await self.load_channel_plans()
        except Exception:  # noqa: BLE001 - the old map stays; the next modal tries again
            log.exception("could not re-read the customers' channels")
        finally:
            self._channel_plans_refresh = None

    async def plan_for_channel(self, channel_id: str, contacts: bool = True) -> tuple[Customer | None, Plan]:
        customer = await self.customer_for_channel(channel_id, contacts)
        plan_id = customer.plan_id if customer else self.settings.default_plan
        try:
            return customer, self.policies.plan(plan_id)
        except UnknownIdError as e:
            raise ConfigError(f"This channel's plan is not loaded: {e}") from None

    async def add_customer(self, name: str, channel_id: str, plan_id: str, triage_channel_id: str | None = None) -> Customer:
        name = name.strip()
        if not name:
            raise InvalidInput("a customer needs a name")
        self.policies.plan(plan_id)
        async with self.sessions() as s:
            existing = await customer_by_name_or_channel(s, name, channel_id)
            if existing is not None:
                if existing.name == name:
                    raise Conflict(f"a customer named {name!r} already exists (channel {existing.channel_id})")
                raise Conflict(f"channel {channel_id} already belongs to customer {existing.name!r}")
            customer = Customer(
                name=name,
                channel_id=channel_id,
                plan_id=plan_id,
                triage_channel_id=triage_channel_id,
                created_at=self.clock.now(),
            )
            s.add(customer)
            await s.commit()
            self._channel_plans = None  # re-read on the next modal
            return customer

    async def add_contact(self, customer_name: str, slack_user_id: str, primary: bool = False) -> Contact:
        async with self.sessions() as s:
            customer = await customer_named(s, customer_name)
            if any(c.slack_user_id == slack_user_id for c in customer.contacts):
                raise Conflict(f"{slack_user_id} is already a contact of {customer_name}")
            plan = self.policies.plan(customer.plan_id)
            limit = plan.spec.limits.contacts.max
            if limit is not None and len(customer.contacts) >= limit:
                raise Conflict(
                    f"{customer_name} is on {plan.spec.name}, which allows {limit} named contact{'s' if limit != 1 else ''}; "
                    f"remove one first with `contacts remove` (current: {', '.join(c.slack_user_id for c in customer.contacts)})"
                )
            contact = Contact(customer_id=customer.id, slack_user_id=slack_user_id, primary=primary)
            s.add(contact)
            await s.commit()
            return contact

    async def update_customer(
        self,
        name: str,
        *,
        plan_id: str | None = None,
        channel_id: str | None = None,
        triage_channel_id: str | None = None,
        clear_triage: bool = False,
    ) -> Customer:
        """Change a customer's plan, channel or triage channel; tickets already open keep their terms."""
        if plan_id is not None:
            try:
                self.policies.plan(plan_id)
            except UnknownIdError as e:
                raise InvalidInput(str(e)) from None
        async with self.sessions() as s:
            customer = await customer_named(s, name)
            if channel_id is not None and channel_id != customer.channel_id:
                other = await customer_on_channel(s, channel_id)
                if other is not None:
                    raise Conflict(f"channel {channel_id} already belongs to customer {other.name!r}")
                customer.channel_id = channel_id
            if plan_id is not None:
                customer.plan_id = plan_id
            if clear_triage:
                customer.triage_channel_id = None
            elif triage_channel_id is not None:
                customer.triage_channel_id = triage_channel_id
            await s.commit()
            self._channel_plans = None  # re-read on the next modal
            return customer

    async def remove_customer(self, name: str) -> Customer:
        """Forget a customer and its contacts; one with tickets stays, as their history names it."""
        async with self.sessions() as s:
            customer = await customer_named(s, name)
            count = await ticket_count(s, customer.id)
            if count:
                raise Conflict(
                    f"{name} has {count} ticket{'s' if count != 1 else ''} on record, which keep its name: "
                    "change its channel or plan instead (customers update)"
                )
            await s.delete(customer)
            await s.commit()
            self._channel_plans = None  # re-read on the next modal
            return customer

    async def remove_contact(self, customer_name: str, slack_user_id: str) -> Customer:
        async with self.sessions() as s:
            customer = await customer_named(s, customer_name)
            contact = next((c for c in customer.contacts if c.slack_user_id == slack_user_id), None)
            if contact is None:
                known = ", ".join(c.slack_user_id for c in customer.contacts) or "(none)"
                raise NotFound(f"{slack_user_id} is not a contact of {customer_name}; its contacts: {known}")
            customer.contacts.remove(contact)
            await s.commit()
            return customer
