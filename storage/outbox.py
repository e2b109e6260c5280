"""The outbox (`outbox` rows): posts the bot owes Slack, and the claim/record queries of their delivery.

`owe` runs in the transaction that makes a post owed (a ticket stored, an
action recorded), so a post is never owed without its row. `OutboxStore` is
what `bot.delivery.Delivery` claims and records through; the lease is its own
pair of columns (`claimed_by`, `lease_until`), tested in the claim query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.db import StoreContext, lease_rows, rowcount
from storage.models import OutboxPost, Ticket
from storage.tickets import mark_shown

KINDS = ("announcement", "thread", "customer")
# The handler that owes a post tries it at once (claiming it by id); the scheduler's retries only
# take a row this long after it was owed, so the two do not race for a fresh row.
HANDLER_FIRST = timedelta(seconds=10)


def owe(
    s: AsyncSession,
    ticket_id: int,
    kind: str,
    now: datetime,
    *,
    channel_id: str | None = None,
    text: str | None = None,
    event_id: int | None = None,
) -> OutboxPost:
    """Add one owed post to the session (the caller's transaction)."""
    if kind not in KINDS:
        raise ValueError(f"unknown outbox kind {kind!r}")
    row = OutboxPost(
        ticket_id=ticket_id,
        event_id=event_id,
        kind=kind,
        channel_id=channel_id,
        text=text,
        state="pending",
        created_at=now,
        run_at=now + HANDLER_FIRST,
        attempts=0,
    )
    s.add(row)
    return row


@dataclass
class PostOutcome:
    """What became of one delivery attempt."""

    row_id: int
    kind: str
    state: str  # sent, pending (retried later), failed (for good)
    error: str | None = None
    channel: str | None = None
    ts: str | None = None
    run_at: datetime | None = None
    recovered: bool = False  # found already posted, not posted again


class OutboxStore:
    """Claims and records of `bot.delivery.Delivery` (which sets `services`, `replica_id`, `lease`)."""

    services: StoreContext
    replica_id: str
    lease: timedelta

    async def claim(self, now: datetime, ids: Sequence[int] | None = None, limit: int = 100) -> list[OutboxPost]:
        """Due rows (or these `ids`, if still owed), leased to this replica; a lease that ran out may be taken over."""
        t = OutboxPost
        runnable = or_(
            (t.state == "pending") & (t.run_at <= now) if ids is None else t.state == "pending",
            (t.state == "claimed") & (t.lease_until <= now),
        )
        async with self.services.sessions() as s:
            query = select(t).where(runnable).order_by(t.id).limit(limit)
            if ids is not None:
                query = query.where(t.id.in_(list(ids)))
            rows = await lease_rows(s, query, self.replica_id, now + self.lease)
            await s.commit()
            return rows

    async def extend_leases(self, ids: Sequence[int], until: datetime) -> int:
        """Heartbeat: keep holding these rows while their attempt is still running."""
        async with self.services.sessions() as s:
            res = await s.execute(
                update(OutboxPost)
                .where(OutboxPost.id.in_(list(ids)), OutboxPost.claimed_by == self.replica_id, OutboxPost.state == "claimed")
                .values(lease_until=until)
            )
            await s.commit()
            return rowcount(res)

    async def tickets_of(self, rows: Sequence[OutboxPost]) -> dict[int, Ticket]:
        async with self.services.sessions() as s:
            found = (
                (await s.execute(select(Ticket).where(Ticket.id.in_({r.ticket_id for r in rows})).options(selectinload(Ticket.events))))
                .scalars()
                .all()
            )
        return {t.id: t for t in found}

    async def announcement_owed(self, ticket_id: int) -> bool:
        """A thread post waits while its ticket's announcement is still to be posted."""
        async with self.services.sessions() as s:
            found = await s.execute(
                select(OutboxPost.id)
                .where(
                    OutboxPost.ticket_id == ticket_id,
                    OutboxPost.kind == "announcement",
                    OutboxPost.state.in_(("pending", "claimed")),
                )
                .limit(1)
            )
            return found.first() is not None

    async def record(self, outcomes: Sequence[PostOutcome], now: datetime) -> None:
        """Outcomes of rows this replica still holds; a sent announcement gives the ticket its thread."""
        if not outcomes:
            return
        async with self.services.sessions() as s:
            for o in outcomes:
                held = (OutboxPost.id == o.row_id) & (OutboxPost.claimed_by == self.replica_id) & (OutboxPost.state == "claimed")
                values: dict[str, Any] = {"state": o.state, "error": o.error, "lease_until": None}
                if o.state == "sent":
                    values.update(sent_at=now, message_channel=o.channel, message_ts=o.ts)
                if o.state == "pending":
                    values.update(run_at=o.run_at or now)
                    if o.channel and o.kind != "thread":
                        values.update(channel_id=o.channel)
                res = await s.execute(update(OutboxPost).where(held).values(**values))
                if o.state == "sent" and o.kind in ("thread", "customer") and rowcount(res):
                    await self._shown_to_customer(s, o, now)
                if o.state == "sent" and o.kind == "announcement" and rowcount(res):
                    row = await s.get(OutboxPost, o.row_id)
                    ticket = await s.get(Ticket, row.ticket_id) if row else None
                    if ticket is not None:
                        ticket.announce_channel_id, ticket.thread_ts = o.channel, o.ts
                        await s.execute(  # thread posts waiting for it may go now
                            update(OutboxPost)
                            .where(OutboxPost.ticket_id == ticket.id, OutboxPost.kind == "thread", OutboxPost.state == "pending")
                            .values(run_at=now)
                        )
            await s.commit()

    async def _shown_to_customer(self, s: AsyncSession, o: PostOutcome, now: datetime) -> None:
        """A post where the customer sees it: the customer's thread, or the ticket's own thread when the
        ticket lives in the customer's channel. Its action counts from now (`storage.tickets.mark_shown`)."""
        row = await s.get(OutboxPost, o.row_id)
        ticket = await s.get(Ticket, row.ticket_id) if row else None
        if row is None or ticket is None:
            return
        if o.kind == "customer":
            if ticket.customer_thread_ts is None:
                ticket.customer_thread_ts = ticket.source_message_ts or o.ts
        elif ticket.announce_channel_id != ticket.channel_id:
            return  # the triage thread: the customer sees nothing there
        if row.event_id is not None:
            await mark_shown(s, self.services.policies, ticket.id, row.event_id, now)

    async def next_due(self) -> datetime | None:
        async with self.services.sessions() as s:
            found = await s.execute(select(OutboxPost.run_at).where(OutboxPost.state == "pending").order_by(OutboxPost.run_at).limit(1))
            return found.scalar_one_or_none()
