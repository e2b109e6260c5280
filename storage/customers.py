"""Customers as stored: by channel, by name, all of them.

`CustomerStore` is mixed into `bot.services.Services`, which gives it `sessions`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from rules.errors import NotFound
from storage.db import StoreContext
from storage.models import Customer


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
