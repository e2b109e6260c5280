"""Customers: which plan a channel is on, adding customers and their named contacts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.settings import Settings
from rules.clock import Clock
from rules.errors import ConfigError, Conflict, InvalidInput, NotFound, UnknownIdError
from rules.policy import Plan, PolicySet
from storage.models import Contact, Customer


class CustomerServices:
    """Customers and contacts, a part of `bot.services.Services`."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    policies: PolicySet
    clock: Clock

    async def plan_for_channel(self, channel_id: str) -> tuple[Customer | None, Plan]:
        customer = await self.customer_for_channel(channel_id)
        plan_id = customer.plan_id if customer else self.settings.default_plan
        try:
            return customer, self.policies.plan(plan_id)
        except UnknownIdError as e:
            raise ConfigError(f"This channel's plan is not loaded: {e}") from None

    async def add_customer(
        self, name: str, channel_id: str, plan_id: str, triage_channel_id: str | None = None
    ) -> Customer:
        name = name.strip()
        if not name:
            raise InvalidInput("a customer needs a name")
        self.policies.plan(plan_id)
        async with self.sessions() as s:
            existing = (
                await s.execute(select(Customer).where((Customer.name == name) | (Customer.channel_id == channel_id)))
            ).scalars().first()
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
            return customer

    async def add_contact(self, customer_name: str, slack_user_id: str, primary: bool = False) -> Contact:
        async with self.sessions() as s:
            customer = (
                await s.execute(
                    select(Customer).where(Customer.name == customer_name).options(selectinload(Customer.contacts))
                )
            ).scalar_one_or_none()
            if customer is None:
                names = (await s.execute(select(Customer.name).order_by(Customer.name))).scalars().all()
                raise NotFound(f"no customer named {customer_name!r}; known: {', '.join(names) or '(none)'}")
            if any(c.slack_user_id == slack_user_id for c in customer.contacts):
                raise Conflict(f"{slack_user_id} is already a contact of {customer_name}")
            plan = self.policies.plan(customer.plan_id)
            limit = plan.spec.limits.contacts.max
            if limit is not None and len(customer.contacts) >= limit:
                raise Conflict(
                    f"{customer_name} is on {plan.spec.name}, which allows {limit} named contact(s); "
                    f"remove one first (current: {', '.join(c.slack_user_id for c in customer.contacts)})"
                )
            contact = Contact(customer_id=customer.id, slack_user_id=slack_user_id, primary=primary)
            s.add(contact)
            await s.commit()
            return contact
