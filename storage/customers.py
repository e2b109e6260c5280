"""Customers as stored: by channel, by name, all of them.

`CustomerStore` is mixed into `bot.services.Services`, which gives it `sessions`.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from rules.errors import NotFound
from storage.db import StoreContext, is_postgres
from storage.models import Contact, Customer, Ticket


class CustomerStore:
    """Customer queries of `bot.services.Services`."""

    sessions: async_sessionmaker[AsyncSession]

    async def customer_for_channel(self, channel_id: str, contacts: bool = True) -> Customer | None:
        """The customer of a channel (its own or its triage channel); `contacts=False` skips loading them."""
        query = select(Customer).where((Customer.channel_id == channel_id) | (Customer.triage_channel_id == channel_id))
        if contacts:
            query = query.options(selectinload(Customer.contacts))
        async with self.sessions() as s:
            return (await s.execute(query)).scalar_one_or_none()

    async def list_customers(self) -> list[Customer]:
        async with self.sessions() as s:
            rows = await s.execute(select(Customer).options(selectinload(Customer.contacts)).order_by(Customer.name))
            return list(rows.scalars())


async def find_customer(services: StoreContext, name: str) -> Customer:
    """A customer by name, case-insensitively; unknown -> an error listing the known ones."""
    async with services.sessions() as s:
        customers = (await s.execute(select(Customer).order_by(Customer.name))).scalars().all()
    for c in customers:
        if c.name.casefold() == name.strip().casefold():
            return c
    known = ", ".join(c.name for c in customers) or "(none yet)"
    raise NotFound(f"no customer named {name!r}; known customers: {known}")


async def _customer_name(services: StoreContext, customer_id: int | None) -> str | None:
    if customer_id is None:
        return None
    async with services.sessions() as s:
        c = await s.get(Customer, customer_id)
        return c.name if c else None


async def channel_plan_rows(services: StoreContext) -> list[tuple[str, str | None, str]]:
    """Every customer's channel, triage channel and plan id (a few hundred rows at most)."""
    async with services.sessions() as s:
        rows = (await s.execute(select(Customer.channel_id, Customer.triage_channel_id, Customer.plan_id))).all()
    return [(channel_id, triage_channel_id, plan_id) for channel_id, triage_channel_id, plan_id in rows]


async def lock_customer(s: AsyncSession, customer_id: int) -> None:
    """Lock a customer's row for this transaction on PostgreSQL (SQLite has no row locks)."""
    if is_postgres(s):
        await s.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


async def contact_ids(s: AsyncSession, customer_id: int) -> list[str]:
    """The Slack user ids of a customer's named contacts."""
    return list((await s.execute(select(Contact.slack_user_id).where(Contact.customer_id == customer_id))).scalars())


async def customer_by_name_or_channel(s: AsyncSession, name: str, channel_id: str) -> Customer | None:
    """A customer with this exact name or this channel, if any."""
    query = select(Customer).where((Customer.name == name) | (Customer.channel_id == channel_id))
    return (await s.execute(query)).scalars().first()


async def customer_on_channel(s: AsyncSession, channel_id: str) -> Customer | None:
    """The customer whose own channel this is (not its triage channel)."""
    return (await s.execute(select(Customer).where(Customer.channel_id == channel_id))).scalar_one_or_none()


async def customer_named(s: AsyncSession, name: str) -> Customer:
    """A customer by its exact name, with its contacts; unknown -> NotFound listing the known names."""
    customer = (
        await s.execute(select(Customer).where(Customer.name == name).options(selectinload(Customer.contacts)))
    ).scalar_one_or_none()
    if customer is None:
        names = (await s.execute(select(Customer.name).order_by(Customer.name))).scalars().all()
        raise NotFound(f"no customer named {name!r}; known: {', '.join(names) or '(none)'}")
    return customer


async def ticket_count(s: AsyncSession, customer_id: int) -> int:
    """How many tickets a customer has on record."""
    return int((await s.execute(select(func.count()).where(Ticket.customer_id == customer_id))).scalar_one())
